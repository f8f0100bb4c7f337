"""The record of each send wawindow made: one row per request that passed the gate.

A send is ``queued`` when wawindow takes it (before calling WhatsApp), then:

- ``accepted``: WhatsApp answered with a message id (wamid); the message is a
  fact of its thread from then on, and its statuses arrive by webhook;
- ``failed``: WhatsApp refused it (its error is kept as it said it), or no
  attempt reached WhatsApp at all;
- ``unknown``: the request reached WhatsApp and no answer came (a read timeout).
  The message may have gone out; it is never sent again for this request. If it
  did go out, its status webhooks tell.

The row keeps the idempotency key and a hash of the request, the gate's decision,
and WhatsApp's answer as it was (status and body), so a repeated request is
answered exactly as the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class SendState(StrEnum):
    QUEUED = "queued"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"


class SendSource(StrEnum):
    API = "api"  # POST /v1/messages
    REPLY = "reply"  # POST /v1/contacts/{id}/reply
    PROXY = "proxy"  # the Graph proxy


class FailureKind(StrEnum):
    WHATSAPP = "whatsapp_error"  # WhatsApp answered with an error
    UNREACHABLE = "whatsapp_unreachable"  # no attempt reached WhatsApp
    UNKNOWN = "send_outcome_unknown"  # sent, and no answer came
    NO_MESSAGE_ID = "no_message_id"  # a 2xx answer without a message id


@dataclass(frozen=True, slots=True)
class SendRecord:
    """One stored send. ``decision`` and ``error`` are JSON-ready documents;
    ``response_status``/``response`` are WhatsApp's answer exactly (when one came)."""

    id: str
    tenant_id: str
    line: str
    contact_id: str | None
    recipient: str
    source: SendSource
    idempotency_key: str | None
    request_hash: str
    state: SendState
    wamid: str | None
    decision: dict[str, Any]
    error: dict[str, Any] | None
    response_status: int | None
    response: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """How a queued send ended."""

    state: SendState
    wamid: str | None = None
    contact_id: str | None = None
    error: dict[str, Any] | None = None
    response_status: int | None = None
    response: dict[str, Any] | None = None


def whatsapp_error(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """WhatsApp's error answer, kept with its code, title, message, details and trace id.

    Graph errors put the title in the message (``"(#131026) Message undeliverable"``);
    it is split out here. ``error_data.details`` says what exactly went wrong.
    """
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    message = _text(error.get("message"))
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else data
    return {
        "kind": FailureKind.WHATSAPP.value,
        "http_status": status,
        "code": error.get("code"),
        "error_subcode": error.get("error_subcode"),
        "type": _text(error.get("type")),
        "title": _title(message) or _text(error.get("error_user_title")),
        "message": message,
        "details": _text(details),
        "fbtrace_id": _text(error.get("fbtrace_id")),
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _title(message: str | None) -> str | None:
    """``"(#131026) Message undeliverable"`` → ``"Message undeliverable"``."""
    if message is None:
        return None
    if message.startswith("(#") and ")" in message:
        return message.split(")", 1)[1].strip() or None
    return message


def failure(kind: FailureKind, reason: str, attempts: int) -> dict[str, Any]:
    """A send that ended without WhatsApp's word on it."""
    return {"kind": kind.value, "reason": reason, "attempts": attempts}
