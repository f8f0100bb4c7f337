"""ThreadLog (DESIGN 1.2, 1.5): any order, any repetition, and conversation ids that stay valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from wawindow.domain.conversations import conversation_id
from wawindow.domain.events import DomainEvent
from wawindow.domain.facts import (
    BsuidChanged,
    IdentityObserved,
    InboundMessage,
    ManualClose,
    OutboundMessage,
    StatusUpdate,
    TemplateChange,
    TemplateRef,
    ThreadFact,
    UserCall,
    natural_key,
)
from wawindow.domain.identity import Identity
from wawindow.domain.policy import Policy
from wawindow.domain.timeline import ThreadLog, fact_order

LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    return START + timedelta(hours=n)


def inbound(message_id: str, at: datetime) -> InboundMessage:
    return InboundMessage(LINE, message_id, at, USER, "text")


def template(message_id: str, at: datetime, category: str = "utility") -> OutboundMessage:
    return OutboundMessage(LINE, message_id, at, USER, "template", TemplateRef("t"), category)


def status(message_id: str, name: str, at: datetime) -> StatusUpdate:
    return StatusUpdate(LINE, message_id, name, at, USER)


def types(events: list[DomainEvent]) -> list[str]:
    return [e.type for e in events]


def new_log(snapshot_every: int = 64) -> ThreadLog:
    return ThreadLog(LINE, Policy(), snapshot_every=snapshot_every)


def summary(log: ThreadLog) -> object:
    """What must not depend on arrival order (ids handed out may)."""
    conversations = [
        (c.started_at, c.messages_count, c.closed_at, c.category) for c in log.conversations()
    ]
    state = log.state
    return (state.window, state.entry_point, state.cbp, conversations, log.estimates(), log.drift())


# -- canonical order ----------------------------------------------------------------------


def test_fact_order_within_a_second_is_inbound_outbound_statuses_close() -> None:
    same = START
    facts: list[ThreadFact] = [
        ManualClose(LINE, "req", same, USER),
        status("out1", "read", same),
        status("out1", "sent", same),
        status("out1", "delivered", same),
        template("out1", same),
        UserCall(LINE, "call1", same, USER),
    ]
    ordered = sorted(facts, key=fact_order)
    assert isinstance(ordered[0], UserCall)
    assert isinstance(ordered[1], OutboundMessage)
    assert [f.status for f in ordered[2:5] if isinstance(f, StatusUpdate)] == [
        "sent",
        "delivered",
        "read",
    ]
    assert isinstance(ordered[5], ManualClose)


def test_fact_order_is_time_first() -> None:
    assert fact_order(status("o", "read", START)) < fact_order(
        inbound("i", START + timedelta(seconds=1))
    )


# -- natural keys ------------------------------------------------------------------------


def test_a_message_and_its_statuses_have_separate_keys() -> None:
    assert natural_key(inbound("m1", START)) == ("message", "m1")
    assert natural_key(template("m1", START)) == ("message", "m1")
    assert natural_key(status("m1", "read", START)) == ("status", "m1", "read")
    assert natural_key(status("m1", "read", hours(1))) == ("status", "m1", "read")


def test_calls_and_closes_are_keyed_by_their_ids() -> None:
    assert natural_key(UserCall(LINE, "c1", START, USER)) == ("call", "c1")
    assert natural_key(ManualClose(LINE, "r1", START, USER)) == ("close", "r1")


def test_identity_observed_is_keyed_by_its_identifiers_in_any_order() -> None:
    both = Identity.of(wa_id="16505551234", bsuid="US.1")
    key = natural_key(IdentityObserved(LINE, START, both))
    assert key == ("identity", LINE, "bsuid:US.1,wa_id:16505551234", START.isoformat())


def test_bsuid_change_and_template_change_keys() -> None:
    assert natural_key(BsuidChanged(LINE, START, "US.1", "US.2")) == (
        "bsuid_change",
        "US.1",
        "US.2",
    )
    change = TemplateChange("WABA1", "t1", "status", START, status="APPROVED")
    assert natural_key(change) == ("template", "t1", "status", START.isoformat())
    undated = TemplateChange("WABA1", "t1", "status", None)
    assert natural_key(undated) == ("template", "t1", "status", "")


# -- idempotence and order independence --------------------------------------------------


def test_a_duplicate_fact_is_ignored() -> None:
    log = new_log()
    fact = inbound("in1", START)
    assert log.add(fact) != []
    assert log.add(fact) == []
    assert log.add(inbound("in1", START)) == []
    assert len(log.facts) == 1
    (conversation,) = log.conversations()
    assert conversation.messages_count == 1


def test_a_repeated_status_is_one_fact() -> None:
    log = new_log()
    log.extend([template("out1", START), status("out1", "delivered", hours(0.1))])
    assert log.add(status("out1", "delivered", hours(0.1))) == []
    assert len(log.estimates()) == 1


def test_a_late_inbound_refolds_the_window() -> None:
    log = new_log()
    log.add(inbound("in2", hours(10)))
    log.add(template("out1", hours(11)))
    log.add(inbound("in1", hours(2)))  # late
    assert log.state.window.last_inbound_at == hours(10)
    assert [type(f).__name__ for f in log.facts] == [
        "InboundMessage",
        "InboundMessage",
        "OutboundMessage",
    ]


def test_a_late_inbound_changes_the_billing_of_a_later_delivery() -> None:
    # PMP-1 utility: billable outside the window, free inside. The inbound arrives last.
    log = new_log()
    log.extend([template("out1", hours(1)), status("out1", "delivered", hours(1.1))])
    assert log.estimates()["out1"].billable
    log.add(inbound("in1", hours(0.5)))
    assert not log.estimates()["out1"].billable


FACTS: list[ThreadFact] = [
    inbound("in1", START),
    template("out1", hours(1)),
    status("out1", "read", hours(1.2)),
    status("out1", "delivered", hours(1.1)),
    ManualClose(LINE, "req1", hours(2), USER),
    inbound("in2", hours(3)),
]


@pytest.mark.parametrize("snapshot_every", [1, 2, 64])
def test_every_arrival_order_folds_to_the_same_thread(snapshot_every: int) -> None:
    expected = new_log()
    expected.extend(FACTS)
    for order in permutations(FACTS):
        log = new_log(snapshot_every)
        for fact in order:
            log.add(fact)
        assert summary(log) == summary(expected)


def test_extend_sorts_and_deduplicates() -> None:
    log = new_log()
    log.extend([*reversed(FACTS), *FACTS])
    expected = new_log()
    for fact in FACTS:
        expected.add(fact)
    assert summary(log) == summary(expected)
    assert len(log.facts) == len(FACTS)


# -- conversation ids across refolds -----------------------------------------------------


def two_conversations() -> tuple[ThreadLog, str, str]:
    log = new_log()
    log.add(inbound("a", START))
    log.add(inbound("b", hours(25)))  # after a's conversation timed out
    first, second = (c.id for c in log.conversations())
    return log, first, second


def test_a_late_message_bridging_two_conversations_merges_them() -> None:
    log, first, second = two_conversations()
    events = log.add(inbound("x", hours(12)))
    (only,) = log.conversations()
    assert only.id == first  # the earlier id survives
    assert only.messages_count == 3
    assert log.resolve(second) == first
    assert log.resolve(first) == first
    assert log.placements() == {"a": first, "x": first, "b": first}
    (merged,) = [e for e in events if e.type == "conversation.merged"]
    assert merged.subject == first
    assert merged.data["absorbed"] == second
    assert merged.at == hours(12)


def test_merges_chain_through_aliases() -> None:
    log = new_log()
    log.extend([inbound("a", START), inbound("b", hours(30)), inbound("c", hours(60))])
    ids = [c.id for c in log.conversations()]
    log.add(inbound("x2", hours(45)))  # c's conversation joins b's
    log.add(inbound("x1", hours(15)))  # b's conversation joins a's
    assert [c.id for c in log.conversations()] == [ids[0]]
    assert [log.resolve(i) for i in ids] == [ids[0]] * 3


def test_a_late_manual_close_splits_a_conversation() -> None:
    log = new_log()
    log.extend([inbound("a", START), template("b", hours(0.1)), inbound("c", hours(0.3))])
    (before,) = log.conversations()
    events = log.add(ManualClose(LINE, "req1", hours(0.2), USER))
    first, second = log.conversations()
    assert first.id == before.id  # the id handed out stays with the earlier part
    assert first.closed_at == hours(0.2)
    assert first.messages_count == 2
    assert second.started_at == hours(0.3)
    assert log.placements()["c"] == second.id
    assert types(events).count("conversation.ended") == 1
    assert ("conversation.created", second.id) in [(e.type, e.subject) for e in events]
    assert ("conversation.updated", first.id) in [(e.type, e.subject) for e in events]


def test_a_late_message_before_the_start_keeps_the_id_and_says_updated() -> None:
    log = new_log()
    log.add(inbound("a", START))
    (before,) = log.conversations()
    events = log.add(inbound("z", START - timedelta(minutes=10)))
    (after,) = log.conversations()
    assert after.id == before.id
    assert after.started_at == START - timedelta(minutes=10)
    assert log.placements() == {"z": before.id, "a": before.id}
    assert ("conversation.updated", before.id) in [(e.type, e.subject) for e in events]


def test_events_after_a_refold_name_only_conversations_that_exist() -> None:
    # A late message before a conversation's start: the refold computes the conversation
    # under the late message's id, but keeps the id handed out. No event may name an id
    # that neither conversations() lists nor resolve() maps to a listed one.
    log = new_log()
    events = log.add(inbound("a", START))
    events += log.add(inbound("z", START - timedelta(minutes=10)))
    listed = {c.id for c in log.conversations()}
    named = {e.subject for e in events if e.type.startswith("conversation.")}
    assert {log.resolve(subject) for subject in named} <= listed


def test_a_send_record_arriving_after_its_status_gives_the_same_thread() -> None:
    # The send record is timed a minute after the delivery receipt and lands last in
    # canonical order; the status step already folded must see the template's category.
    receipt = status("out1", "delivered", hours(1))
    record = template("out1", hours(1) + timedelta(minutes=1), "marketing")
    record_first, receipt_first = new_log(), new_log()
    record_first.add(record)
    record_first.add(receipt)
    receipt_first.add(receipt)
    receipt_first.add(record)
    assert summary(receipt_first) == summary(record_first)


def test_a_late_status_does_not_re_emit_earlier_events() -> None:
    log = new_log()
    log.extend([inbound("a", START), template("b", hours(0.1)), inbound("c", hours(0.3))])
    events = log.add(status("b", "delivered", hours(0.15)))
    assert types(events) == ["message.status"]


def test_each_event_is_returned_once_across_refolds() -> None:
    log = new_log(snapshot_every=2)
    seen: list[str] = []
    for fact in reversed(FACTS):
        seen.extend(e.key for e in log.add(fact))
    assert len(seen) == len(set(seen))


def test_conversation_ids_are_those_of_the_first_messages_in_order() -> None:
    log = new_log()
    log.extend(FACTS)
    assert [c.id for c in log.conversations()] == [
        conversation_id(LINE, "in1"),
        conversation_id(LINE, "in2"),
    ]


def test_a_call_is_folded_but_is_not_a_message_record() -> None:
    log = new_log()
    log.add(UserCall(LINE, "call1", START, USER))
    assert log.records == {}
    assert log.state.window.last_inbound_at == START
    assert log.conversations() == []


def test_a_call_opens_the_window_at_its_first_event_whatever_arrives_first() -> None:
    ended = UserCall(LINE, "c1", START + timedelta(minutes=20), USER, event="terminate")
    started = UserCall(LINE, "c1", START, USER, event="connect")
    for order in ([ended, started], [started, ended]):
        log = ThreadLog(LINE, Policy())
        for fact in order:
            log.add(fact)
        assert log.state.window.last_inbound_at == START
