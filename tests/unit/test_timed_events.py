"""What a timed event says: its time is the due time; its data names line, contact and subject."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from wawindow.domain.conversations import Conversation, Origin
from wawindow.domain.deadlines import Deadline
from wawindow.domain.policy import Policy
from wawindow.service.timed_events import (
    ContactCard,
    DueContext,
    DueRow,
    OutboxEvent,
    ThreadCard,
    emit_due,
    timed_event,
)

T = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LINE = "106540352242922"
CARD = ContactCard("ct_1", name="Sheena", wa_id="16505551234", external_ref="cust-1")
THREAD = ThreadCard(LINE, "ct_1", T, T + 24 * HOUR)
CONVERSATION = Conversation(
    "conv_1", T, "in1", T, "user", Origin.USER_INITIATED, None, last_inbound_at=T
)


def context(policy: Policy | None = None) -> DueContext:
    return DueContext(
        threads={"th_1": THREAD},
        contacts={"ct_1": CARD},
        conversations={"conv_1": CONVERSATION},
        policies={"tn_1": policy or Policy()},
    )


def event_for(deadline: Deadline, policy: Policy | None = None) -> OutboxEvent:
    return timed_event(DueRow("tn_1", "th_1", deadline), context(policy))


def test_the_event_time_is_the_original_due_time() -> None:
    event = event_for(Deadline(T + 24 * HOUR, "window.closed", T.isoformat()))
    assert event.occurred_at == T + 24 * HOUR
    assert event.type == "window.closed"
    assert event.data["phone_number_id"] == LINE
    assert event.data["contact_id"] == "ct_1"
    assert event.data["contact"] == {
        "id": "ct_1",
        "wa_id": "16505551234",
        "bsuid": None,
        "username": None,
        "name": "Sheena",
        "external_ref": "cust-1",
    }
    assert event.data["window"] == {
        "last_inbound_at": "2026-03-10T10:00:00Z",
        "expires_at": "2026-03-11T10:00:00Z",
    }


def test_the_key_names_the_thread_so_two_windows_of_one_second_differ() -> None:
    deadline = Deadline(T + 24 * HOUR, "window.closed", T.isoformat())
    first = timed_event(DueRow("tn_1", "th_1", deadline), context())
    second = timed_event(DueRow("tn_1", "th_2", deadline), context())
    assert first.key != second.key
    assert first.key == timed_event(DueRow("tn_1", "th_1", deadline), context()).key


def test_a_conversation_event_shows_the_status_at_the_due_time() -> None:
    inactive = event_for(Deadline(T + HOUR / 2, "conversation.inactive", "conv_1"))
    ended = event_for(Deadline(T + 24 * HOUR, "conversation.ended", "conv_1"))
    assert inactive.data["conversation"]["status"] == "inactive"
    assert inactive.data["conversation"]["ended_at"] is None
    assert ended.data["conversation"]["status"] == "ended"
    assert ended.data["conversation"]["ended_reason"] == "timeout"
    assert ended.data["conversation"]["ended_at"] == "2026-03-11T10:00:00Z"


def test_the_tenants_inactive_after_decides_the_status() -> None:
    # Under a 2h setting, 30 minutes after the last message the conversation is still active.
    event = event_for(
        Deadline(T + HOUR / 2, "conversation.inactive", "conv_1"), Policy(inactive_after=2 * HOUR)
    )
    assert event.data["conversation"]["status"] == "active"


def test_a_conversation_no_longer_stored_is_named_by_its_id() -> None:
    event = event_for(Deadline(T + HOUR, "conversation.inactive", "conv_gone"))
    assert event.data["conversation"] == {"id": "conv_gone"}


def test_window_expiring_says_how_long_is_left() -> None:
    event = event_for(Deadline(T + 23 * HOUR, "window.expiring", T.isoformat()))
    assert event.data["window"]["expires_at"] == "2026-03-11T10:00:00Z"
    assert event.data["window"]["remaining_seconds"] == 3600


def test_window_expiring_follows_a_window_the_provider_closed_early() -> None:
    early = ThreadCard(LINE, "ct_1", T, T + 5 * HOUR)
    row = DueRow("tn_1", "th_1", Deadline(T + 4 * HOUR, "window.expiring", T.isoformat()))
    event = timed_event(row, DueContext(threads={"th_1": early}))
    assert event.data["window"]["expires_at"] == "2026-03-10T15:00:00Z"


def test_free_entry_point_and_lead_events() -> None:
    fep = event_for(Deadline(T + 72 * HOUR, "fep.closed", T.isoformat()))
    assert fep.data["free_entry_point"] == {
        "opened_at": "2026-03-10T10:00:00Z",
        "expires_at": "2026-03-13T10:00:00Z",
    }
    soon = event_for(Deadline(T + 22 * HOUR, "lead.unanswered_soon", "in1"))
    assert soon.data["lead"] == {
        "message_id": "in1",
        "received_at": "2026-03-10T10:00:00Z",
        "reply_by": "2026-03-11T10:00:00Z",
        "remaining_seconds": 7200,
    }
    lost = event_for(Deadline(T + 24 * HOUR, "lead.unanswered", "in1"))
    assert lost.data["lead"]["reply_by"] == "2026-03-11T10:00:00Z"
    assert lost.data["lead"]["remaining_seconds"] == 0


class Outbox:
    """The port, in memory: a key is written once."""

    def __init__(self) -> None:
        self.rows: list[OutboxEvent] = []

    def due_context(self, rows: Sequence[DueRow]) -> DueContext:
        return context()

    def add_outbox(self, event: OutboxEvent, now: datetime) -> bool:
        if any(row.key == event.key for row in self.rows):
            return False
        self.rows.append(event)
        return True

    def add_outbox_many(self, events: Sequence[OutboxEvent], now: datetime) -> set[str]:
        return {event.key for event in events if self.add_outbox(event, now)}


def test_emitting_writes_in_due_order_and_once() -> None:
    later = DueRow("tn_1", "th_1", Deadline(T + 24 * HOUR, "window.closed", T.isoformat()))
    earlier = DueRow("tn_1", "th_1", Deadline(T + 23 * HOUR, "window.expiring", T.isoformat()))
    outbox = Outbox()
    emitted = emit_due(outbox, [later, earlier], T + 25 * HOUR)
    again = emit_due(outbox, [later], T + 25 * HOUR)

    assert [e.type for e in emitted] == ["window.expiring", "window.closed"]
    assert again == []
    assert len(outbox.rows) == 2
