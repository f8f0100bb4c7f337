"""The HTTP client of the Cloud API's messages endpoint, with safe retries.

``POST {base_url}/{version}/{phone_number_id}/messages`` with the line's access
token as the bearer token (httpx, one connection pool per process).

Never two sends for one request: a request is repeated only when it surely did
not reach WhatsApp, or when WhatsApp answered that it did not take it:

- the connection could not be opened (refused, connect timeout, no free
  connection in the pool): the request never left;
- WhatsApp answered 5xx, or error 130429 (throughput limit), or HTTP 429: wait
  with exponential backoff and jitter (at least ``Retry-After`` when given);
- WhatsApp answered 131056 (pair rate limit): the pair (line, recipient) is held
  for ``pair_spacing`` seconds (``PairPacer``) and the send goes after that.

Anything else that fails once the request was on its way (read timeout, the
connection closed without an answer) raises ``SendOutcomeUnknown``: WhatsApp
may have sent the message, so it is not sent again. After the last attempt the
last answer is returned as it is; ``WhatsAppUnreachable`` when no attempt got
through at all.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from enum import Enum
from typing import Final

import httpx

from wawindow.adapters.whatsapp.pacing import PairPacer
from wawindow.config import Settings
from wawindow.service.ports import (
    GraphLine,
    GraphReply,
    SendOutcomeUnknown,
    WhatsAppUnreachable,
)

THROUGHPUT_LIMIT: Final = 130429
PAIR_RATE_LIMIT: Final = 131056

# Failures before the request was written: it never reached WhatsApp.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _Retry(Enum):
    BACKOFF = "backoff"
    PAIR = "pair"


def error_code(body: dict[str, object]) -> int | None:
    """The Graph error ``code`` of an answer, if it is an error with an integer code."""
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None


def _retry_kind(reply: GraphReply) -> _Retry | None:
    code = error_code(reply.body)
    if code == PAIR_RATE_LIMIT:
        return _Retry.PAIR
    if reply.status >= 500 or reply.status == 429 or code == THROUGHPUT_LIMIT:
        return _Retry.BACKOFF
    return None


def _body_of(response: httpx.Response) -> dict[str, object]:
    """The JSON object WhatsApp answered; a Graph-shaped error when it was anything else."""
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return {
        "error": {
            "message": f"HTTP {response.status_code} without a JSON object in the body",
            "type": "UnexpectedResponse",
            "code": response.status_code,
        }
    }


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 0.0


class HttpWhatsAppClient:
    """Sends to the Cloud API over HTTP; one instance per process (it pools connections).

    ``sleep``, ``monotonic`` and ``random`` are the waits, the clock of the pair
    spacing and the jitter, so tests can run the retry schedule without waiting.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 0.5,
        backoff_limit: float = 8.0,
        pair_spacing: float = 6.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_limit = backoff_limit
        self._sleep = sleep
        self._jitter = jitter
        self.pacer = PairPacer(pair_spacing, monotonic, sleep)

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpWhatsAppClient:
        return cls(
            connect_timeout=settings.send_connect_timeout,
            read_timeout=settings.send_read_timeout,
            attempts=settings.send_attempts,
            backoff=settings.send_backoff,
            backoff_limit=settings.send_backoff_limit,
            pair_spacing=settings.pair_spacing,
        )

    def close(self) -> None:
        self._http.close()

    def send(
        self, line: GraphLine, version: str, body: dict[str, object], recipient: str
    ) -> GraphReply:
        return self._post(line, version, body, (line.phone_number_id, recipient))

    def forward(self, line: GraphLine, version: str, body: dict[str, object]) -> GraphReply:
        return self._post(line, version, body, None)

    def _post(
        self,
        line: GraphLine,
        version: str,
        body: dict[str, object],
        pair: tuple[str, str] | None,
    ) -> GraphReply:
        url = f"{line.base_url.rstrip('/')}/{version}/{line.phone_number_id}/messages"
        headers = {"Authorization": f"Bearer {line.access_token}"}
        attempt = 0
        while True:
            attempt += 1
            if pair is not None:
                self.pacer.wait(pair)
            try:
                response = self._http.post(url, json=body, headers=headers)
            except _NOT_SENT as error:
                if attempt >= self.attempts:
                    raise WhatsAppUnreachable(_describe(error, url), attempt) from error
                self._sleep(self._delay(attempt, 0.0))
                continue
            except httpx.TransportError as error:
                raise SendOutcomeUnknown(_describe(error, url), attempt) from error
            reply = GraphReply(response.status_code, _body_of(response), attempt)
            retry = _retry_kind(reply)
            if retry is None or attempt >= self.attempts:
                return reply
            if retry is _Retry.PAIR and pair is not None:
                self.pacer.hold(pair)
            else:
                self._sleep(self._delay(attempt, _retry_after(response)))

    def _delay(self, attempt: int, retry_after: float) -> float:
        """Exponential backoff with jitter: half the step fixed, half random."""
        step = min(self.backoff * 2.0 ** (attempt - 1), self.backoff_limit)
        jittered = step / 2 + self._jitter() * step / 2
        return max(jittered, min(retry_after, self.backoff_limit))


def _describe(error: httpx.TransportError, url: str) -> str:
    kind = type(error).__name__
    detail = str(error) or kind
    return f"{kind} on POST {url}: {detail}"
