"""Timed events (DESIGN 1.9): when the passing of time alone changes a thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wawindow.domain.conversations import conversation_id
from wawindow.domain.deadlines import Deadline, deadlines, due_after, next_due
from wawindow.domain.facts import (
    InboundMessage,
    ManualClose,
    OutboundMessage,
    ProviderError,
    Referral,
    StatusUpdate,
    ThreadFact,
)
from wawindow.domain.identity import Identity
from wawindow.domain.policy import Policy
from wawindow.domain.thread import ThreadState
from wawindow.domain.timeline import ThreadLog

LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
POLICY = Policy()


def fold(*facts: ThreadFact, policy: Policy = POLICY) -> ThreadState:
    log = ThreadLog(LINE, policy)
    log.extend(facts)
    return log.state


def inbound(message_id: str, at: datetime, referral: bool = False) -> InboundMessage:
    ref = Referral(source_type="ad", source_id="AD1") if referral else None
    return InboundMessage(LINE, message_id, at, USER, "text", ref)


def due(state: ThreadState, policy: Policy = POLICY) -> list[tuple[str, datetime]]:
    return [(d.type, d.due_at) for d in deadlines(state, policy)]


def test_nothing_is_due_for_an_empty_thread() -> None:
    assert deadlines(ThreadState(LINE), POLICY) == []
    assert next_due(ThreadState(LINE), POLICY, NOON) is None


def test_an_inbound_message_schedules_its_conversation_and_window_events() -> None:
    state = fold(inbound("in1", NOON))
    conv = conversation_id(LINE, "in1")
    window = NOON.isoformat()
    assert deadlines(state, POLICY) == [
        Deadline(NOON + timedelta(minutes=30), "conversation.inactive", conv),
        Deadline(NOON + timedelta(hours=23), "window.expiring", window),
        Deadline(NOON + timedelta(hours=24), "conversation.ended", conv),
        Deadline(NOON + timedelta(hours=24), "window.closed", window),
    ]


def test_deadlines_follow_the_last_message() -> None:
    later = NOON + timedelta(hours=3)
    state = fold(inbound("in1", NOON), OutboundMessage(LINE, "out1", later, USER, "text"))
    assert ("conversation.inactive", later + timedelta(minutes=30)) in due(state)
    assert ("conversation.ended", later + timedelta(hours=24)) in due(state)
    # a business message does not move the window
    assert ("window.closed", NOON + timedelta(hours=24)) in due(state)


def test_no_conversation_deadlines_for_a_manually_closed_conversation() -> None:
    state = fold(inbound("in1", NOON), ManualClose(LINE, "req1", NOON + timedelta(minutes=5), USER))
    types = {kind for kind, _ in due(state)}
    assert "conversation.ended" not in types
    assert "conversation.inactive" not in types
    assert "window.closed" in types  # the window does not close with the conversation


def test_no_inactive_deadline_when_it_would_come_after_the_end() -> None:
    slow = Policy(inactive_after=timedelta(hours=24))
    state = fold(inbound("in1", NOON), policy=slow)
    assert "conversation.inactive" not in {kind for kind, _ in due(state, slow)}


def test_window_expiring_at_each_tenant_lead_time() -> None:
    leads = Policy(window_expiring_leads=(timedelta(hours=2), timedelta(minutes=15)))
    state = fold(inbound("in1", NOON), policy=leads)
    expiring = [at for kind, at in due(state, leads) if kind == "window.expiring"]
    assert expiring == [NOON + timedelta(hours=22), NOON + timedelta(hours=23, minutes=45)]


def test_no_window_expiring_for_a_lead_longer_than_the_window() -> None:
    long = Policy(window_expiring_leads=(timedelta(hours=24), timedelta(hours=30)))
    state = fold(inbound("in1", NOON), policy=long)
    assert "window.expiring" not in {kind for kind, _ in due(state, long)}


def test_window_closed_moves_to_a_provider_closure() -> None:
    sent = NOON + timedelta(hours=2)
    state = fold(
        inbound("in1", NOON),
        OutboundMessage(LINE, "out1", sent, USER, "text"),
        StatusUpdate(
            LINE, "out1", "failed", sent + timedelta(seconds=3), USER, (ProviderError(131047),)
        ),
    )
    assert ("window.closed", sent) in due(state)


def test_fep_closed_when_the_entry_point_expires() -> None:
    reply = NOON + timedelta(hours=1)
    state = fold(
        inbound("in1", NOON, referral=True), OutboundMessage(LINE, "out1", reply, USER, "text")
    )
    (fep,) = [d for d in deadlines(state, POLICY) if d.type == "fep.closed"]
    assert fep.due_at == reply + timedelta(hours=72)
    assert fep.subject == reply.isoformat()
    assert not {"lead.unanswered", "lead.unanswered_soon"} & {
        d.type for d in deadlines(state, POLICY)
    }


def test_an_unanswered_lead_warns_2h_before_and_fires_at_24h() -> None:
    state = fold(inbound("in1", NOON, referral=True))
    leads = [d for d in deadlines(state, POLICY) if d.type.startswith("lead.")]
    assert leads == [
        Deadline(NOON + timedelta(hours=22), "lead.unanswered_soon", "in1"),
        Deadline(NOON + timedelta(hours=24), "lead.unanswered", "in1"),
    ]


def test_lead_warning_follows_the_tenant_setting() -> None:
    policy = Policy(lead_unanswered_warning=timedelta(hours=6))
    state = fold(inbound("in1", NOON, referral=True), policy=policy)
    assert ("lead.unanswered_soon", NOON + timedelta(hours=18)) in due(state, policy)


def test_no_lead_warning_when_it_would_come_before_the_lead() -> None:
    policy = Policy(lead_unanswered_warning=timedelta(hours=24))
    state = fold(inbound("in1", NOON, referral=True), policy=policy)
    types = {kind for kind, _ in due(state, policy)}
    assert "lead.unanswered" in types
    assert "lead.unanswered_soon" not in types


def test_deadlines_are_sorted_earliest_first() -> None:
    state = fold(inbound("in1", NOON, referral=True))
    found = deadlines(state, POLICY)
    assert found == sorted(found)


def test_due_after_keeps_only_what_is_strictly_ahead() -> None:
    state = fold(inbound("in1", NOON))
    inactive = NOON + timedelta(minutes=30)
    ahead = due_after(state, POLICY, inactive)
    assert [d.type for d in ahead] == ["window.expiring", "conversation.ended", "window.closed"]
    assert due_after(state, POLICY, NOON + timedelta(hours=24)) == []


def test_next_due_is_the_earliest_ahead() -> None:
    state = fold(inbound("in1", NOON))
    first = next_due(state, POLICY, NOON)
    assert first is not None
    assert (first.type, first.due_at) == ("conversation.inactive", NOON + timedelta(minutes=30))
    later = next_due(state, POLICY, NOON + timedelta(minutes=30))
    assert later is not None
    assert later.type == "window.expiring"


def test_deadline_key_names_type_subject_and_time() -> None:
    deadline = Deadline(NOON, "window.closed", "x")
    assert deadline.key == f"window.closed:x:{NOON.isoformat()}"
