"""Posting the sandbox's webhooks: signed as Meta signs them, one at a time, in order.

Every body goes into one queue and out of it in the order it went in, so the
statuses of a message arrive as ``sent``, ``delivered``, ``read``, and a body
never overtakes an earlier one. A body may have to wait until its due time (the
sandbox spaces statuses by ``--status-delay``).

A post counts as delivered on any 2xx answer. A connection error, a timeout, a
5xx or a 429 is retried (``attempts`` in all, waiting ``backoff`` seconds, then
twice as long each time, at most ``MAX_BACKOFF``), as WhatsApp retries a receiver
that is down; any other answer (a 401 for a bad signature, a 400…) is final.
Either way the next body goes out after it: one receiver that is down for good
does not stop the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Final, Literal

import httpx

from wawindow.adapters.meta.signature import SIGNATURE_HEADER, sign

logger = logging.getLogger(__name__)

MAX_BACKOFF: Final = 5.0
USER_AGENT: Final = "facebookexternalua"

PostState = Literal["pending", "delivered", "failed"]


@dataclass
class WebhookPost:
    """One body to post, and what became of it so far."""

    number: int
    webhook_field: str  # the change's ``field``: messages, calls
    body: bytes
    due: float  # event loop time before which it is not posted
    state: PostState = "pending"
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    url: str
    app_secret: str
    attempts: int = 5
    backoff: float = 0.25
    timeout: float = 10.0


class WebhookSender:
    """The queue and its one worker; ``start`` and ``close`` inside the event loop."""

    def __init__(
        self, settings: DeliverySettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.posts: list[WebhookPost] = []
        self._transport = transport
        self._queue: asyncio.Queue[WebhookPost] = asyncio.Queue()
        self._client: httpx.AsyncClient | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.settings.timeout, transport=self._transport, follow_redirects=False
        )
        self._worker = asyncio.create_task(self._work(), name="sandbox-webhooks")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._client is not None:
            await self._client.aclose()
        for post in self.posts:
            post.done.set()  # whoever waits for a post that will not go out now stops waiting

    def post(self, field_name: str, body: bytes, delay: float = 0.0) -> WebhookPost:
        """Queue ``body``, to go out no sooner than ``delay`` seconds from now."""
        due = asyncio.get_running_loop().time() + max(delay, 0.0)
        post = WebhookPost(len(self.posts) + 1, field_name, body, due)
        self.posts.append(post)
        self._queue.put_nowait(post)
        return post

    @property
    def pending(self) -> int:
        return sum(1 for post in self.posts if post.state == "pending")

    async def _work(self) -> None:
        while True:
            post = await self._queue.get()
            wait = post.due - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self._deliver(post)
            except Exception as error:  # a bug must not stop every later webhook
                logger.exception("posting webhook %d failed", post.number)
                post.state, post.error = "failed", f"{type(error).__name__}: {error}"
            post.done.set()

    async def _deliver(self, post: WebhookPost) -> None:
        assert self._client is not None, "start() the sender first"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(post.body, self.settings.app_secret),
        }
        delay = self.settings.backoff
        for attempt in range(1, self.settings.attempts + 1):
            post.attempts = attempt
            retry = await self._attempt(post, headers)
            if not retry:
                return
            if attempt < self.settings.attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        post.state = "failed"

    async def _attempt(self, post: WebhookPost, headers: dict[str, str]) -> bool:
        """One try; whether it is worth another."""
        assert self._client is not None
        try:
            answer = await self._client.post(self.settings.url, content=post.body, headers=headers)
        except httpx.HTTPError as error:
            post.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            return True
        post.status_code, post.error = answer.status_code, None
        if answer.is_success:
            post.state = "delivered"
            return False
        if answer.status_code >= 500 or answer.status_code == 429:
            return True
        post.state = "failed"
        return False
