"""Standard Webhooks requests over HTTP (httpx), signed with the ``standardwebhooks`` library.

Each request is a ``POST`` of the event as compact JSON with

- ``webhook-id``: the delivery's id, the same on every attempt and redelivery;
- ``webhook-timestamp``: Unix seconds when this attempt is signed (the wall clock,
  whatever instant the dispatcher was asked to work at, because receivers check
  it against their own clock to refuse replays);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one
  per valid secret, space-separated (two for a day after a secret rotation).

Only a 2xx answer is a success. Redirects are not followed (a 3xx is a failed
attempt: an endpoint that moved must be edited). Every attempt is bounded in
time: ``CONNECT_TIMEOUT`` to connect and ``TIMEOUT`` for each read or write; at
most ``EXCERPT_BYTES`` of the answer are read, to keep as its excerpt.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import httpx
from standardwebhooks import Webhook

from wawindow.service.webhook_ports import OutgoingWebhook, SendResult

logger = logging.getLogger(__name__)

TIMEOUT: Final = 15.0  # seconds
CONNECT_TIMEOUT: Final = 5.0  # seconds
EXCERPT_BYTES: Final = 2048
EXCERPT_CHARS: Final = 1000
USER_AGENT: Final = "wawindow-webhooks/0.1"


def wall_clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def encode_body(webhook: OutgoingWebhook) -> str:
    """The exact text that is signed and sent."""
    return json.dumps(webhook.body, separators=(",", ":"), ensure_ascii=False)


def signed_headers(webhook: OutgoingWebhook, body: str, at: datetime) -> dict[str, str]:
    signatures = " ".join(
        Webhook(secret).sign(webhook.webhook_id, at, body) for secret in webhook.secrets
    )
    return {
        "webhook-id": webhook.webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class HttpWebhookSender:
    """Sends over one connection pool; safe to use from several threads at once."""

    def __init__(
        self,
        timeout: float = TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._clock = clock

    def send(self, webhook: OutgoingWebhook) -> SendResult:
        body = encode_body(webhook)
        headers = signed_headers(webhook, body, self._clock())
        started = time.perf_counter()
        try:
            request = self._client.build_request(
                "POST", webhook.url, content=body.encode(), headers=headers
            )
            response = self._client.send(request, stream=True)
            try:
                excerpt = _excerpt(response)
            finally:
                response.close()
        except httpx.TimeoutException as error:
            return SendResult(None, _since(started), error=f"timed out ({type(error).__name__})")
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as error:
            return SendResult(None, _since(started), error=_describe(error))
        except Exception as error:  # e.g. a host name IDNA cannot encode
            # One endpoint's bad URL fails its own attempt, never the dispatcher's tick.
            logger.warning("webhook to %s failed unexpectedly", webhook.url, exc_info=True)
            return SendResult(None, _since(started), error=_describe(error))
        return SendResult(response.status_code, _since(started), excerpt)

    def close(self) -> None:
        self._client.close()


def _excerpt(response: httpx.Response) -> str | None:
    read = b""
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= EXCERPT_BYTES:
            break
    text = read[:EXCERPT_BYTES].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return text or None


def _since(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def _describe(error: Exception) -> str:
    detail = str(error).strip()
    name = type(error).__name__
    return f"{name}: {detail}"[:EXCERPT_CHARS] if detail else name
