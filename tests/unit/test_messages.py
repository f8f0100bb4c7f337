"""Message records (DESIGN 1.6): order-free merge, statuses never downgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from wawindow.domain.facts import (
    Direction,
    InboundMessage,
    OutboundMessage,
    ProviderConversation,
    ProviderError,
    ProviderPricing,
    StatusUpdate,
    TemplateRef,
)
from wawindow.domain.identity import Identity
from wawindow.domain.messages import MessageRecord, merge_fact, status_rank

LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
SENT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
CLOSED = ProviderError(131047, "Re-engagement message")

Fact = InboundMessage | OutboundMessage | StatusUpdate


def at(seconds: int) -> datetime:
    return SENT + timedelta(seconds=seconds)


def status(
    name: str,
    seconds: int,
    errors: tuple[ProviderError, ...] = (),
    conversation: ProviderConversation | None = None,
    pricing: ProviderPricing | None = None,
) -> StatusUpdate:
    return StatusUpdate(LINE, "out1", name, at(seconds), USER, errors, conversation, pricing)


def send(category: str | None = "utility", seconds: int = 0) -> OutboundMessage:
    return OutboundMessage(
        LINE, "out1", at(seconds), USER, "template", TemplateRef("bill", "en_US"), category
    )


def record(*facts: Fact) -> MessageRecord:
    merged: MessageRecord | None = None
    for fact in facts:
        merged = merge_fact(merged, fact)
    assert merged is not None
    return merged


def test_any_order_any_repetition_gives_the_same_record() -> None:
    facts: list[Fact] = [send(), status("sent", 2), status("delivered", 5), status("read", 9)]
    expected = record(*facts)
    for order in permutations([*facts, status("delivered", 5)]):
        assert record(*order) == expected


def test_outbound_progression_ends_at_the_highest_status_with_all_times() -> None:
    # DESIGN 5.6: read, sent, delivered, delivered
    merged = record(status("read", 9), status("sent", 2), status("delivered", 5))
    merged = merge_fact(merged, status("delivered", 5))
    assert merged.status == "read"
    assert merged.status_time("sent") == at(2)
    assert merged.status_time("delivered") == at(5)
    assert merged.status_time("read") == at(9)


def test_a_late_delivered_after_read_keeps_read_and_records_the_delivery() -> None:
    merged = record(send(), status("read", 9), status("delivered", 5))
    assert merged.status == "read"
    assert merged.delivered_at == at(5)


def test_read_implies_delivered_at_the_read_time() -> None:
    merged = record(send(), status("sent", 2), status("read", 9))
    assert merged.delivered_at == at(9)
    assert merged.status_time("delivered") == at(9)
    assert "delivered" not in merged.status_times


def test_played_also_implies_delivered() -> None:
    assert record(status("played", 7)).delivered_at == at(7)


def test_not_delivered_before_delivery() -> None:
    merged = record(send(), status("sent", 2))
    assert merged.delivered_at is None
    assert merged.status_time("delivered") is None


def test_a_failure_after_delivery_keeps_delivered_and_records_the_failure() -> None:
    merged = record(send(), status("delivered", 5), status("failed", 8, errors=(CLOSED,)))
    assert merged.status == "delivered"
    assert merged.delivered_at == at(5)
    assert merged.status_time("failed") == at(8)
    assert merged.errors == (CLOSED,)


def test_a_failure_outranks_accepted() -> None:
    assert record(send(), status("failed", 3, errors=(CLOSED,))).status == "failed"


def test_status_before_any_status_is_accepted_if_we_sent_it() -> None:
    assert record(send()).status == "accepted"


def test_status_of_a_message_known_only_from_statuses_starts_queued() -> None:
    assert record(status("deleted", 4)).status == "queued"


def test_unknown_statuses_never_win() -> None:
    merged = record(send(), status("sent", 2), status("deleted", 30), status("warning", 31))
    assert merged.status == "sent"
    assert status_rank("deleted") < status_rank("queued")


def test_the_earliest_time_of_a_repeated_status_is_kept() -> None:
    merged = record(status("delivered", 7), status("delivered", 5))
    assert merged.status_time("delivered") == at(5)


def test_errors_are_deduplicated_and_sorted() -> None:
    other = ProviderError(131026, "Message undeliverable")
    merged = record(
        status("failed", 3, errors=(CLOSED, other)),
        status("failed", 3, errors=(CLOSED,)),
        status("failed", 4, errors=(other, CLOSED)),
    )
    assert merged.errors == (other, CLOSED)


@pytest.mark.parametrize("code", [131047, 470])
def test_re_engagement_failure_is_131047_or_legacy_470(code: int) -> None:
    assert record(
        send(), status("failed", 3, errors=(ProviderError(code),))
    ).failed_with_re_engagement


def test_other_failures_are_not_re_engagement() -> None:
    merged = record(send(), status("failed", 3, errors=(ProviderError(131026),)))
    assert not merged.failed_with_re_engagement
    assert not record(send(), status("sent", 3)).failed_with_re_engagement


def test_pricing_of_the_highest_ranked_status_wins_in_any_order() -> None:
    on_sent = ProviderPricing(True, "PMP", "utility", "regular")
    on_delivered = ProviderPricing(False, "PMP", "utility", "free_customer_service")
    facts = [status("sent", 2, pricing=on_sent), status("delivered", 5, pricing=on_delivered)]
    assert record(*facts).pricing == on_delivered
    assert record(*reversed(facts)).pricing == on_delivered


def test_pricing_of_an_unknown_status_loses_to_a_known_one() -> None:
    known = ProviderPricing(True, "PMP", "marketing", "regular")
    strange = ProviderPricing(False, "PMP", "marketing", "free_entry_point")
    facts = [status("sent", 2, pricing=known), status("deleted", 5, pricing=strange)]
    assert record(*facts).pricing == known
    assert record(*reversed(facts)).pricing == known


def test_provider_conversation_with_the_later_expiry_wins() -> None:
    short = ProviderConversation("c1", at(3600))
    long = ProviderConversation("c1", at(7200))
    bare = ProviderConversation("c1")
    facts = [
        status("sent", 1, conversation=bare),
        status("delivered", 2, conversation=long),
        status("read", 3, conversation=short),
    ]
    for order in permutations(facts):
        assert record(*order).conversation == long


def test_a_conversation_without_expiry_is_kept_when_nothing_better_comes() -> None:
    bare = ProviderConversation("c1")
    assert record(status("sent", 1, conversation=bare)).conversation == bare


def test_the_earliest_send_time_and_the_known_category_are_kept() -> None:
    merged = record(send("UTILITY", seconds=10), send(None, seconds=0))
    assert merged.sent_at == at(0)
    assert merged.category == "utility"
    assert merged.is_template
    assert merged.template == TemplateRef("bill", "en_US")


def test_at_is_the_send_time_else_the_first_status() -> None:
    assert record(status("read", 9), status("sent", 2)).at == at(2)
    assert record(status("sent", 2), send(seconds=1)).at == at(1)
    assert merge_fact(None, status("sent", 2)).direction is Direction.OUTBOUND


def test_an_inbound_message_is_received_at_its_time() -> None:
    merged = merge_fact(None, InboundMessage(LINE, "in1", SENT, USER, "image"))
    assert merged.direction is Direction.INBOUND
    assert merged.status == "received"
    assert merged.at == SENT
    assert merged.type == "image"
    assert not merged.is_template


def test_a_record_without_any_time_has_no_time() -> None:
    assert MessageRecord("m", Direction.OUTBOUND, LINE).at is None
