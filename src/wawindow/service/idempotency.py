"""Idempotency keys: a repeated send request is answered, never sent again.

A client that did not get an answer (a timeout, a dropped connection) sends the
same request again with the same ``Idempotency-Key`` header. Keys are unique
per tenant, and each remembers a hash of its request:

- same key, same request: the first send's record is the answer (``replayed``);
- same key, another request: refused (``IdempotencyKeyReused``, a 422) rather
  than guess which one the client meant;
- same key while the first is still on its way to WhatsApp: ``SendInProgress``
  (a 409); the client asks again a little later. A send still ``queued`` after
  ``STALE_AFTER`` (its process died while sending) is reported ``unknown``.

Dry runs store nothing and need no key. Without a key every request is a new send.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Final

from wawindow.service.send_records import SendRecord, SendState

STALE_AFTER: Final = timedelta(minutes=10)
"""Longer than any send's attempts and waits: a send queued this long lost its process."""


class IdempotencyKeyReused(Exception):
    """The key was used for another request."""

    def __init__(self, key: str, record: SendRecord) -> None:
        super().__init__(f"idempotency key {key!r} was used for a different request")
        self.key = key
        self.record = record


class SendInProgress(Exception):
    """The first request with this key is still being sent."""

    def __init__(self, record: SendRecord) -> None:
        super().__init__(f"send {record.id} is still in progress")
        self.record = record


def request_hash(document: object) -> str:
    """A hash of a JSON-ready request: the same content gives the same hash, whatever
    the key order or spacing it was written with."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def earlier_send(
    record: SendRecord | None, key: str, hashed: str, now: datetime
) -> SendRecord | None:
    """The first send made with ``key``, to answer with again; ``None`` for a new key."""
    if record is None:
        return None
    if record.request_hash != hashed:
        raise IdempotencyKeyReused(key, record)
    if record.state is SendState.QUEUED and now - record.created_at < STALE_AFTER:
        raise SendInProgress(record)
    return record


def is_stale(record: SendRecord, now: datetime) -> bool:
    """A send queued so long ago that its process must have died while sending it."""
    return record.state is SendState.QUEUED and now - record.created_at >= STALE_AFTER
