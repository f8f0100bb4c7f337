"""Conversations (DESIGN 1.5): active, inactive after 30 min, ended 24h after the last message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wawindow.domain.conversations import (
    Conversation,
    ConversationStatus,
    EndedReason,
    MessageSeen,
    Origin,
    add_message,
    category_or_service,
    close_conversation,
    conversation_id,
    start_conversation,
)
from wawindow.domain.facts import (
    CloseReason,
    Direction,
    InboundMessage,
    ManualClose,
    OutboundMessage,
    Referral,
    TemplateRef,
)
from wawindow.domain.identity import Identity
from wawindow.domain.policy import Policy
from wawindow.domain.timeline import ThreadLog

SECOND = timedelta(seconds=1)
THIRTY_MINUTES = timedelta(minutes=30)
LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def seen(
    message_id: str,
    at: datetime,
    direction: Direction = Direction.INBOUND,
    category: str | None = None,
    from_referral: bool = False,
) -> MessageSeen:
    return MessageSeen(LINE, message_id, at, direction, category, from_referral)


def user_started(at: datetime = NOON) -> Conversation:
    return start_conversation(seen("in1", at))


# -- status at its boundaries ---------------------------------------------------------


def test_active_while_the_last_message_is_less_than_30_minutes_old() -> None:
    conversation = user_started()
    assert conversation.status(NOON, THIRTY_MINUTES) is ConversationStatus.ACTIVE
    assert conversation.status(NOON + THIRTY_MINUTES - SECOND, THIRTY_MINUTES) == "active"


def test_inactive_at_exactly_30_minutes() -> None:
    assert user_started().status(NOON + THIRTY_MINUTES, THIRTY_MINUTES) == "inactive"


def test_inactive_after_follows_the_tenant_setting() -> None:
    conversation = user_started()
    five = timedelta(minutes=5)
    assert conversation.status(NOON + five, five) is ConversationStatus.INACTIVE
    assert conversation.status(NOON + five - SECOND, five) is ConversationStatus.ACTIVE


def test_default_policy_goes_inactive_after_30_minutes() -> None:
    assert Policy().inactive_after == THIRTY_MINUTES


def test_ended_exactly_24h_after_the_last_message_by_timeout() -> None:
    conversation = user_started()
    end = NOON + timedelta(hours=24)
    assert conversation.timeout_at == end
    assert conversation.status(end - SECOND, THIRTY_MINUTES) is ConversationStatus.INACTIVE
    assert conversation.ended_at(end - SECOND) is None
    assert conversation.ended_reason(end - SECOND) is None
    assert conversation.status(end, THIRTY_MINUTES) is ConversationStatus.ENDED
    assert conversation.ended_at(end) == end
    assert conversation.ended_reason(end) is EndedReason.TIMEOUT
    assert conversation.is_open(end - SECOND)
    assert not conversation.is_open(end)


def test_a_later_message_moves_the_timeout() -> None:
    later = NOON + timedelta(hours=20)
    conversation = add_message(user_started(), seen("out1", later, Direction.OUTBOUND, "service"))
    assert conversation.timeout_at == later + timedelta(hours=24)
    assert conversation.status(later + timedelta(minutes=1), THIRTY_MINUTES) == "active"


# -- closes -------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [EndedReason.MANUAL_CLOSE, EndedReason.AGENT_CLOSE])
def test_close_ends_it_at_once_with_its_reason(reason: EndedReason) -> None:
    closed_at = NOON + timedelta(minutes=5)
    conversation = close_conversation(user_started(), closed_at, reason)
    assert conversation.status(closed_at - SECOND, THIRTY_MINUTES) is ConversationStatus.ACTIVE
    assert conversation.status(closed_at, THIRTY_MINUTES) is ConversationStatus.ENDED
    assert conversation.ended_at(closed_at) == closed_at
    assert conversation.ended_reason(closed_at + timedelta(days=3)) is reason


def test_closing_an_ended_conversation_changes_nothing() -> None:
    conversation = user_started()
    after_timeout = NOON + timedelta(hours=25)
    assert close_conversation(conversation, after_timeout, EndedReason.MANUAL_CLOSE) is conversation
    closed = close_conversation(conversation, NOON, EndedReason.AGENT_CLOSE)
    assert close_conversation(closed, NOON + SECOND, EndedReason.MANUAL_CLOSE) is closed


# -- who started it, its category ------------------------------------------------------


def test_a_user_message_starts_a_user_initiated_conversation() -> None:
    conversation = user_started()
    assert conversation.initiated_by == "user"
    assert conversation.origin is Origin.USER_INITIATED
    assert conversation.category is None
    assert conversation.started_at == NOON
    assert conversation.last_inbound_at == NOON
    assert conversation.last_outbound_at is None
    assert conversation.messages_count == 1


def test_a_business_message_starts_a_business_initiated_conversation() -> None:
    conversation = start_conversation(seen("out1", NOON, Direction.OUTBOUND, "utility"))
    assert conversation.initiated_by == "business"
    assert conversation.origin is Origin.BUSINESS_INITIATED
    assert conversation.category == "utility"
    assert conversation.last_inbound_at is None
    assert conversation.last_outbound_at == NOON


def test_a_referral_starts_a_free_entry_point_conversation() -> None:
    conversation = start_conversation(seen("in1", NOON, from_referral=True))
    assert conversation.origin is Origin.FREE_ENTRY_POINT
    assert conversation.initiated_by == "user"


def test_category_is_the_first_business_messages() -> None:
    conversation = user_started()
    conversation = add_message(
        conversation, seen("out1", NOON + SECOND, Direction.OUTBOUND, "utility")
    )
    conversation = add_message(conversation, seen("in2", NOON + 2 * SECOND))
    conversation = add_message(
        conversation, seen("out2", NOON + 3 * SECOND, Direction.OUTBOUND, "marketing")
    )
    assert conversation.category == "utility"
    assert category_or_service(conversation) == "utility"
    assert conversation.messages_count == 4
    assert conversation.last_inbound_at == NOON + 2 * SECOND
    assert conversation.last_outbound_at == NOON + 3 * SECOND


def test_category_is_service_without_a_business_message() -> None:
    assert category_or_service(user_started()) == "service"


def test_conversation_ids_are_stable_per_line_and_first_message() -> None:
    assert conversation_id(LINE, "in1") == conversation_id(LINE, "in1")
    assert conversation_id(LINE, "in1") != conversation_id("other-line", "in1")
    assert conversation_id(LINE, "in1") != conversation_id(LINE, "in2")
    assert user_started().id == conversation_id(LINE, "in1")
    assert user_started().id.startswith("conv_")


# -- through the fold ------------------------------------------------------------------


def inbound(message_id: str, at: datetime, referral: Referral | None = None) -> InboundMessage:
    return InboundMessage(LINE, message_id, at, USER, "text", referral)


def test_a_message_24h_after_the_last_starts_a_new_conversation() -> None:
    log = ThreadLog(LINE, Policy())
    log.extend([inbound("in1", NOON), inbound("in2", NOON + timedelta(hours=24))])
    first, second = log.conversations()
    assert first.messages_count == second.messages_count == 1
    assert first.ended_at(NOON + timedelta(hours=24)) == NOON + timedelta(hours=24)


def test_a_message_just_before_24h_stays_in_the_conversation() -> None:
    log = ThreadLog(LINE, Policy())
    log.extend([inbound("in1", NOON), inbound("in2", NOON + timedelta(hours=24) - SECOND)])
    (only,) = log.conversations()
    assert only.messages_count == 2


def test_inactive_conversation_reactivates_with_the_next_message() -> None:
    log = ThreadLog(LINE, Policy())
    log.add(inbound("in1", NOON))
    log.add(inbound("in2", NOON + timedelta(minutes=10)))
    events = log.add(OutboundMessage(LINE, "out1", NOON + timedelta(minutes=60), USER, "text"))
    (reactivated,) = [e for e in events if e.type == "conversation.reactivated"]
    (conversation,) = log.conversations()
    assert reactivated.subject == conversation.id
    assert conversation.status(NOON + timedelta(minutes=61), THIRTY_MINUTES) == "active"


@pytest.mark.parametrize("reason", [CloseReason.MANUAL_CLOSE, CloseReason.AGENT_CLOSE])
def test_a_message_after_a_close_starts_a_new_conversation(reason: CloseReason) -> None:
    log = ThreadLog(LINE, Policy())
    log.add(inbound("in1", NOON))
    events = log.add(ManualClose(LINE, "req1", NOON + timedelta(minutes=5), USER, reason))
    (ended,) = [e for e in events if e.type == "conversation.ended"]
    assert ended.data["reason"] == reason.value
    log.add(inbound("in2", NOON + timedelta(minutes=6)))
    first, second = log.conversations()
    assert first.ended_reason(NOON + timedelta(minutes=6)) == reason.value
    assert second.started_at == NOON + timedelta(minutes=6)
    assert second.is_open(NOON + timedelta(minutes=6))
    assert log.placements()["in2"] == second.id


def test_a_close_with_no_open_conversation_does_nothing() -> None:
    log = ThreadLog(LINE, Policy())
    assert log.add(ManualClose(LINE, "req1", NOON, USER)) == []
    log.add(inbound("in1", NOON + SECOND))
    log.add(ManualClose(LINE, "req2", NOON + timedelta(hours=30), USER))
    (conversation,) = log.conversations()
    assert conversation.ended_reason(NOON + timedelta(hours=30)) is EndedReason.TIMEOUT


def test_fold_gives_the_conversation_its_first_templates_category() -> None:
    log = ThreadLog(LINE, Policy())
    log.extend(
        [
            inbound("in1", NOON),
            OutboundMessage(
                LINE, "out1", NOON + SECOND, USER, "template", TemplateRef("bill"), "UTILITY"
            ),
            OutboundMessage(
                LINE, "out2", NOON + 2 * SECOND, USER, "template", TemplateRef("promo"), "marketing"
            ),
        ]
    )
    (conversation,) = log.conversations()
    assert conversation.category == "utility"


def test_fold_gives_a_free_form_first_reply_the_service_category() -> None:
    log = ThreadLog(LINE, Policy())
    log.extend(
        [
            inbound("in1", NOON),
            OutboundMessage(LINE, "out1", NOON + SECOND, USER, "text"),
            OutboundMessage(
                LINE, "out2", NOON + 2 * SECOND, USER, "template", TemplateRef("bill"), "utility"
            ),
        ]
    )
    (conversation,) = log.conversations()
    assert conversation.category == "service"


def test_fold_marks_a_referral_start_as_free_entry_point() -> None:
    log = ThreadLog(LINE, Policy())
    events = log.add(inbound("in1", NOON, Referral(source_type="ad", source_id="AD1")))
    (conversation,) = log.conversations()
    assert conversation.origin is Origin.FREE_ENTRY_POINT
    (created,) = [e for e in events if e.type == "conversation.created"]
    assert created.data["origin"] == "free_entry_point"
