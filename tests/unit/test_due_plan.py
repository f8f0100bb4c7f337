"""Keeping a thread's due times indexed: what a fact cancels, adds, or proves past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wawindow.domain.conversations import conversation_id
from wawindow.domain.deadlines import (
    Deadline,
    deadlines,
    plan_due_changes,
    replace_due,
    replan_for_policy,
)
from wawindow.domain.facts import InboundMessage, Referral, ThreadFact
from wawindow.domain.identity import Identity
from wawindow.domain.policy import Policy
from wawindow.domain.timeline import ThreadLog

LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
T = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(hours=24)
POLICY = Policy()


def inbound(message_id: str, at: datetime, referral: bool = False) -> InboundMessage:
    ref = Referral(source_type="ad", source_id="AD1") if referral else None
    return InboundMessage(LINE, message_id, at, USER, "text", ref)


def due_before_and_after(
    first: list[ThreadFact], then: ThreadFact
) -> tuple[list[Deadline], list[Deadline]]:
    log = ThreadLog(LINE, POLICY)
    log.extend(first)
    before = deadlines(log.state, POLICY)
    log.add(then)
    return before, deadlines(log.state, POLICY)


def test_a_new_inbound_cancels_what_it_pushes_later() -> None:
    later = T + 10 * MINUTE
    before, after = due_before_and_after([inbound("in1", T)], inbound("in2", later))
    plan = plan_due_changes(before, after, later)

    conv = conversation_id(LINE, "in1")
    assert Deadline(T + 30 * MINUTE, "conversation.inactive", conv) in plan.cancel
    assert Deadline(T + DAY, "window.closed", T.isoformat()) in plan.cancel
    assert Deadline(later + DAY, "window.closed", later.isoformat()) in plan.add
    assert Deadline(later + 30 * MINUTE, "conversation.inactive", conv) in plan.add
    assert not plan.replace_all


def test_what_came_true_before_the_fact_is_not_cancelled() -> None:
    # The window closed at 10:00 the next day; the user writes again at 10:30.
    again = T + DAY + 30 * MINUTE
    before, after = due_before_and_after([inbound("in1", T)], inbound("in2", again))
    plan = plan_due_changes(before, after, again)

    assert plan.cancel == ()  # every old due time was at or before the new message
    assert {d.type for d in plan.add} >= {"window.closed", "conversation.ended"}


def test_an_unchanged_due_time_is_neither_cancelled_nor_added() -> None:
    before = [Deadline(T, "window.closed", "a"), Deadline(T + HOUR, "x", "b")]
    plan = plan_due_changes(before, list(before), T - HOUR)
    assert plan.cancel == ()
    assert plan.add == ()


def test_a_new_due_time_in_the_past_is_added_to_be_emitted() -> None:
    closed_early = Deadline(T + HOUR, "window.closed", T.isoformat())
    plan = plan_due_changes([Deadline(T + DAY, "window.closed", T.isoformat())], [closed_early], T)
    assert plan.add == (closed_early,)


def test_after_a_merge_only_what_is_ahead_is_planned_again() -> None:
    found = [Deadline(T - HOUR, "conversation.inactive", "c"), Deadline(T + HOUR, "x", "c")]
    plan = replace_due(found, T)
    assert plan.replace_all
    assert plan.add == (found[1],)


def test_a_shorter_inactive_after_moves_a_pending_inactivity() -> None:
    last = T
    ended = Deadline(last + DAY, "conversation.ended", "conv")
    cancel, add = replan_for_policy(
        ended, POLICY, Policy(inactive_after=10 * MINUTE), T + 5 * MINUTE
    )
    assert cancel == [Deadline(last + 30 * MINUTE, "conversation.inactive", "conv")]
    assert add == [Deadline(last + 10 * MINUTE, "conversation.inactive", "conv")]


def test_an_inactivity_that_went_out_is_not_taken_back_nor_emitted_again() -> None:
    ended = Deadline(T + DAY, "conversation.ended", "conv")
    # At 10:40 the old inactivity (10:30) is out; the new one (11:00) is ahead.
    cancel, add = replan_for_policy(ended, POLICY, Policy(inactive_after=HOUR), T + 40 * MINUTE)
    assert cancel == []
    assert add == [Deadline(T + HOUR, "conversation.inactive", "conv")]


def test_a_new_setting_that_puts_a_due_time_in_the_past_does_not_emit_it_late() -> None:
    ended = Deadline(T + DAY, "conversation.ended", "conv")
    cancel, add = replan_for_policy(
        ended, POLICY, Policy(inactive_after=5 * MINUTE), T + 20 * MINUTE
    )
    assert cancel == [Deadline(T + 30 * MINUTE, "conversation.inactive", "conv")]
    assert add == []


def test_new_window_lead_times_replace_the_pending_warnings() -> None:
    closed = Deadline(T + DAY, "window.closed", T.isoformat())
    new = Policy(window_expiring_leads=(2 * HOUR, 15 * MINUTE))
    cancel, add = replan_for_policy(closed, POLICY, new, T + HOUR)
    assert cancel == [Deadline(T + 23 * HOUR, "window.expiring", T.isoformat())]
    assert add == [
        Deadline(T + 22 * HOUR, "window.expiring", T.isoformat()),
        Deadline(T + DAY - 15 * MINUTE, "window.expiring", T.isoformat()),
    ]


def test_a_window_closed_early_by_the_provider_warns_only_after_it_opened() -> None:
    closed = Deadline(T + 2 * HOUR, "window.closed", T.isoformat())
    new = Policy(window_expiring_leads=(3 * HOUR, 90 * MINUTE))
    cancel, add = replan_for_policy(closed, POLICY, new, T)
    assert cancel == [Deadline(T + HOUR, "window.expiring", T.isoformat())]
    assert add == [Deadline(T + 30 * MINUTE, "window.expiring", T.isoformat())]


def test_a_new_lead_warning_replaces_the_pending_one() -> None:
    unanswered = Deadline(T + DAY, "lead.unanswered", "in1")
    new = Policy(lead_unanswered_warning=6 * HOUR)
    cancel, add = replan_for_policy(unanswered, POLICY, new, T + HOUR)
    assert cancel == [Deadline(T + 22 * HOUR, "lead.unanswered_soon", "in1")]
    assert add == [Deadline(T + 18 * HOUR, "lead.unanswered_soon", "in1")]


def test_replanning_derives_what_the_fold_derives() -> None:
    # For every anchor the fold plans, re-planning from the defaults to other
    # settings gives exactly the due times a fold under those settings plans.
    other = Policy(
        inactive_after=7 * MINUTE,
        window_expiring_leads=(3 * HOUR, 20 * MINUTE),
        lead_unanswered_warning=5 * HOUR,
    )
    facts = [inbound("in1", T, referral=True)]
    old_log, new_log = ThreadLog(LINE, POLICY), ThreadLog(LINE, other)
    old_log.extend(facts)
    new_log.extend(facts)
    old, new = set(deadlines(old_log.state, POLICY)), set(deadlines(new_log.state, other))
    replanned = set(old)
    for anchor in old:
        cancel, add = replan_for_policy(anchor, POLICY, other, T)
        replanned -= set(cancel)
        replanned |= set(add)
    assert replanned == new
