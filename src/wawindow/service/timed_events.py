"""Timed events: a due time taken from the index becomes the event tenants receive.

The scheduler emits due times when their moment comes; ingestion emits those a
fact proves past (the window closed at 10:00 and the user writes again at
10:30) before the fact's own events, so a contact's events reach the outbox in
the order they happened. Both take the due rows out of the index and write them
through ``emit_due`` in one transaction, so each is written once: the outbox is unique on
``(tenant_id, event_key)`` and the key names the thread, the type, the subject
and the original due time.

Every event's ``data`` names its business line and contact, and describes what
the event is about as it stood at the due time (the event's ``occurred_at``):

- ``conversation.inactive``, ``conversation.ended``: ``conversation`` (status,
  times, counts, ``ended_reason`` ``timeout``), its status computed for the due
  time with the tenant's settings, as ``GET /v1/conversations/{id}`` computes it;
- ``window.expiring``: ``window`` with ``expires_at`` and ``remaining_seconds``;
- ``window.closed``: ``window`` with ``last_inbound_at`` and ``expires_at``;
- ``fep.closed``: ``free_entry_point`` with ``opened_at`` and ``expires_at``;
- ``lead.unanswered_soon``, ``lead.unanswered``: ``lead`` with the ad click's
  ``message_id``, ``received_at`` and ``reply_by``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from wawindow.domain.conversations import Conversation
from wawindow.domain.deadlines import Deadline
from wawindow.domain.policy import DEFAULT_POLICY, Policy
from wawindow.domain.thread_view import conversation_view
from wawindow.domain.times import FEP_REPLY_WINDOW, SERVICE_WINDOW, iso_z

TIMED_EVENT_TYPES: Final = (
    "conversation.inactive",
    "conversation.ended",
    "window.expiring",
    "window.closed",
    "fep.closed",
    "lead.unanswered_soon",
    "lead.unanswered",
)


@dataclass(frozen=True, slots=True)
class DueRow:
    """One indexed due time of a thread."""

    tenant_id: str
    thread_id: str
    deadline: Deadline


@dataclass(frozen=True, slots=True)
class ContactCard:
    id: str
    name: str | None = None
    external_ref: str | None = None
    wa_id: str | None = None
    bsuid: str | None = None
    username: str | None = None

    def as_data(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "wa_id": self.wa_id,
            "bsuid": self.bsuid,
            "username": self.username,
            "name": self.name,
            "external_ref": self.external_ref,
        }


@dataclass(frozen=True, slots=True)
class ThreadCard:
    line: str
    contact_id: str
    last_inbound_at: datetime | None = None
    window_ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DueContext:
    """What the rows of one batch need, read in the emitting transaction."""

    threads: Mapping[str, ThreadCard] = field(default_factory=dict)
    contacts: Mapping[str, ContactCard] = field(default_factory=dict)
    conversations: Mapping[str, Conversation] = field(default_factory=dict)
    policies: Mapping[str, Policy] = field(default_factory=dict)  # by tenant


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A row of the outbox: an event for a tenant's systems, unique on ``key``."""

    tenant_id: str
    thread_id: str | None
    type: str
    key: str
    occurred_at: datetime
    data: Mapping[str, Any]


class DueEventStore(Protocol):
    """The outbox, and what due times' events need, inside the caller's transaction."""

    def due_context(self, rows: Sequence[DueRow]) -> DueContext: ...

    def add_outbox(self, event: OutboxEvent, now: datetime) -> bool:
        """Write the event (at ``now``); ``False`` when one with its key was written before."""

    def add_outbox_many(self, events: Sequence[OutboxEvent], now: datetime) -> set[str]:
        """Write the events; the keys of those written (not of those written before)."""


def emit_due(store: DueEventStore, rows: Sequence[DueRow], now: datetime) -> list[OutboxEvent]:
    """Write ``rows``, taken out of the index in this transaction, to the outbox as
    events; returns the events written (not those written before, under the same key)."""
    if not rows:
        return []
    context = store.due_context(rows)
    events = [timed_event(row, context) for row in sorted(rows, key=lambda r: r.deadline)]
    written = store.add_outbox_many(events, now)
    return [event for event in events if event.key in written]


def timed_event(row: DueRow, context: DueContext) -> OutboxEvent:
    deadline = row.deadline
    thread = context.threads.get(row.thread_id)
    contact = context.contacts.get(thread.contact_id) if thread else None
    policy = context.policies.get(row.tenant_id, DEFAULT_POLICY)
    data: dict[str, Any] = {
        "subject": deadline.subject,
        "phone_number_id": thread.line if thread else None,
        "contact_id": thread.contact_id if thread else None,
        "contact": contact.as_data() if contact else None,
        "due_at": iso_z(deadline.due_at),
    }
    data.update(_about(deadline, thread, context.conversations, policy))
    return OutboxEvent(
        tenant_id=row.tenant_id,
        thread_id=row.thread_id,
        type=deadline.type,
        key=timed_event_key(row),
        occurred_at=deadline.due_at,
        data=data,
    )


def timed_event_key(row: DueRow) -> str:
    """Unique per thread: two contacts' windows may well open in the same second."""
    d = row.deadline
    return f"{d.type}:{row.thread_id}:{d.subject}:{d.due_at.isoformat()}"


def _about(
    deadline: Deadline,
    thread: ThreadCard | None,
    conversations: Mapping[str, Conversation],
    policy: Policy,
) -> dict[str, Any]:
    kind, due, subject = deadline.type, deadline.due_at, deadline.subject
    if kind.startswith("conversation."):
        found = conversations.get(subject)
        about = conversation_data(found, due, policy) if found else {"id": subject}
        return {"conversation": about}
    if kind == "window.expiring":
        ends = _window_end(subject, thread)
        remaining = int((ends - due).total_seconds()) if ends else None
        window = {"last_inbound_at": _as_time(subject), "expires_at": iso_z(ends)}
        return {"window": {**window, "remaining_seconds": remaining}}
    if kind == "window.closed":
        return {"window": {"last_inbound_at": _as_time(subject), "expires_at": iso_z(due)}}
    if kind == "fep.closed":
        return {"free_entry_point": {"opened_at": _as_time(subject), "expires_at": iso_z(due)}}
    if kind.startswith("lead."):
        reply_by = due if kind == "lead.unanswered" else due + policy.lead_unanswered_warning
        return {"lead": _lead(subject, reply_by, due)}
    return {}


def conversation_data(conversation: Conversation, at: datetime, policy: Policy) -> dict[str, Any]:
    """A conversation as ``GET /v1/conversations/{id}`` shows it at ``at``."""
    view = conversation_view(conversation, at, policy)
    return {
        "id": conversation.id,
        "status": view.status.value,
        "ended_reason": view.ended_reason.value if view.ended_reason else None,
        "started_at": iso_z(conversation.started_at),
        "ended_at": iso_z(view.ended_at),
        "last_message_at": iso_z(conversation.last_message_at),
        "last_inbound_at": iso_z(conversation.last_inbound_at),
        "last_outbound_at": iso_z(conversation.last_outbound_at),
        "messages_count": conversation.messages_count,
        "initiated_by": conversation.initiated_by,
        "origin": conversation.origin.value,
        "category": conversation.category or "service",
    }


def _lead(message_id: str, reply_by: datetime, due: datetime) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "received_at": iso_z(reply_by - FEP_REPLY_WINDOW),
        "reply_by": iso_z(reply_by),
        "remaining_seconds": int((reply_by - due).total_seconds()),
    }


def _window_end(subject: str, thread: ThreadCard | None) -> datetime | None:
    """The window's end as the thread shows it (a provider's 131047 may have moved it)."""
    opened = _instant(subject)
    if thread is not None and thread.last_inbound_at == opened and thread.window_ends_at:
        return thread.window_ends_at
    return opened + SERVICE_WINDOW if opened else None


def _as_time(subject: str) -> str | None:
    instant = _instant(subject)
    return iso_z(instant) if instant else None


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
