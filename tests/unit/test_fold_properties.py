"""Properties of the thread fold over generated timelines (DESIGN 1.2-1.7).

Each property compares what the fold shows with an expectation computed here,
independently, from the raw facts: the same facts folded in another order, or a
small brute-force oracle written from the rules of DESIGN section 1.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.unit.strategies import (
    DAY_S,
    LINE,
    OTHER_LINE,
    SPAN_S,
    USER,
    Timeline,
    multi_user_facts,
    pmp1_timelines,
    shuffled_with_duplicates,
    timelines,
)
from wawindow.domain.facts import (
    Fact,
    InboundMessage,
    ManualClose,
    OutboundMessage,
    StatusUpdate,
    TemplateRef,
    ThreadFact,
    UserCall,
)
from wawindow.domain.identity import Identity
from wawindow.domain.policy import DEFAULT_POLICY
from wawindow.domain.thread_view import ThreadView, view_thread
from wawindow.domain.timeline import ThreadLog
from wawindow.service.replay import replay

DAY = timedelta(hours=24)
FEP = timedelta(hours=72)
SECOND = timedelta(seconds=1)
RE_ENGAGEMENT = {131047, 470}
# Shown-status ranks as DESIGN 1.6 gives them (failed only above accepted/queued).
RANK = {"queued": 0, "accepted": 1, "failed": 2, "sent": 3, "delivered": 4, "read": 5}

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

randoms = st.randoms(use_true_random=False)
instant_offsets = st.lists(st.integers(0, SPAN_S + 2 * DAY_S), min_size=1, max_size=3)


# -- folding helpers -----------------------------------------------------------------


def known(facts: Iterable[Fact], at: datetime) -> list[Any]:
    """The facts known at ``at``: those that happened by then."""
    return [f for f in facts if f.at is not None and f.at <= at]


def sorted_log(facts: Iterable[ThreadFact]) -> ThreadLog:
    log = ThreadLog(LINE, DEFAULT_POLICY, snapshot_every=4)
    log.extend(facts)
    return log


def shuffled_log(facts: Sequence[ThreadFact], rnd: random.Random) -> ThreadLog:
    log = ThreadLog(LINE, DEFAULT_POLICY, snapshot_every=4)
    for fact in shuffled_with_duplicates(rnd, facts):
        log.add(fact)
    return log


def end_of(timeline: Timeline) -> datetime:
    return timeline.at(SPAN_S + 2 * DAY_S)


def summary(view: ThreadView) -> dict[str, Any]:
    """Everything a view shows, with conversation ids replaced by their position."""
    position = {c.conversation.id: i for i, c in enumerate(view.conversations)}
    conversations = [
        (
            c.conversation.started_at,
            c.ended_at,
            c.status,
            c.ended_reason,
            c.conversation.messages_count,
            c.conversation.initiated_by,
            c.conversation.origin,
            c.conversation.category,
            c.conversation.last_message_at,
            c.conversation.last_inbound_at,
            c.conversation.last_outbound_at,
        )
        for c in view.conversations
    ]
    messages = [
        (
            m.record.message_id,
            m.record.direction,
            m.record.type,
            m.record.at,
            m.record.status,
            dict(m.record.status_times),
            m.record.delivered_at,
            m.record.errors,
            None if m.conversation_id is None else position.get(m.conversation_id, "dangling"),
            m.billing,
        )
        for m in view.messages
    ]
    return {
        "line": view.line,
        "contact": view.contact,
        "window": view.window,
        "entry_point": view.entry_point,
        "can_send_free_form": view.can_send_free_form,
        "conversations": conversations,
        "messages": messages,
        "drift": view.drift,
    }


def log_summary(log: ThreadLog, at: datetime) -> dict[str, Any]:
    return {**summary(view_thread(log, USER, at)), "estimates": log.estimates()}


# -- oracles, from the raw facts --------------------------------------------------------


def sent_times(facts: Iterable[ThreadFact]) -> dict[str, datetime]:
    """When the business sent each outbound message: its send, else its first status."""
    sends: dict[str, datetime] = {}
    firsts: dict[str, datetime] = {}
    for f in facts:
        if isinstance(f, OutboundMessage):
            sends[f.message_id] = min(f.at, sends.get(f.message_id, f.at))
        elif isinstance(f, StatusUpdate):
            firsts[f.message_id] = min(f.at, firsts.get(f.message_id, f.at))
    return {**firsts, **sends}


def introduced_at(facts: Iterable[ThreadFact]) -> dict[str, tuple[datetime, int, int]]:
    """Where each business message enters the thread: its earliest fact (the send, or a
    status stamped before it), as (time, 1 for a send / 2 for a status, status rank)."""
    first: dict[str, tuple[datetime, int, int]] = {}
    for f in facts:
        if isinstance(f, OutboundMessage):
            key = (f.at, 1, 0)
        elif isinstance(f, StatusUpdate):
            key = (f.at, 2, RANK.get(f.status, -1))
        else:
            continue
        first[f.message_id] = min(key, first.get(f.message_id, key))
    return first


def is_re_engagement_failure(fact: ThreadFact) -> bool:
    return (
        isinstance(fact, StatusUpdate)
        and fact.status == "failed"
        and any(e.code in RE_ENGAGEMENT for e in fact.errors)
    )


@dataclass(frozen=True)
class WindowOracle:
    open: bool
    last_inbound_at: datetime | None
    expires_at: datetime | None


def window_oracle(facts: Iterable[ThreadFact], known_at: datetime, at: datetime) -> WindowOracle:
    """The CSW at ``at`` from the facts known at ``known_at`` (DESIGN 1.3).

    Open iff the latest inbound (message or call) is at most ``at`` and less than 24h
    old, and no 131047/470 failure proves it closed: a failed send at ``s`` with
    ``last inbound <= s`` closes it from ``s`` until the next inbound.
    """
    facts = known(facts, known_at)
    inbound = [f.at for f in facts if isinstance(f, InboundMessage | UserCall)]
    if not inbound:
        return WindowOracle(False, None, None)
    last = max(inbound)
    ends = last + DAY
    sent = sent_times(facts)
    for fact in facts:
        if is_re_engagement_failure(fact):
            s = sent[fact.message_id]
            if last <= s < ends:
                ends = s
    return WindowOracle(last <= at < ends, last, ends)


def fep_open(facts: Iterable[ThreadFact], at: datetime) -> bool:
    """The free entry point at ``at`` (DESIGN 1.4), from the facts known at ``at``.

    A referral inbound is a lead (unless an FEP is running then); the first business
    message within 24h of the lead opens an FEP there for 72h.
    """
    facts = known(facts, at)
    events: list[tuple[datetime, int]] = []
    for f in facts:
        if isinstance(f, InboundMessage) and f.referral is not None:
            events.append((f.at, 0))
    events.extend((t, 1) for t, _, _ in introduced_at(facts).values())
    events.sort()
    lead: datetime | None = None
    opened: datetime | None = None
    for t, kind in events:
        running = opened is not None and opened <= t < opened + FEP
        if kind == 0:
            if not running:
                lead = t
        elif lead is not None and lead <= t < lead + DAY:
            opened, lead = t, None
    return opened is not None and opened <= at < opened + FEP


@dataclass(frozen=True)
class ConversationOracle:
    message_ids: frozenset[str]
    started_at: datetime
    last_message_at: datetime
    initiated_by: str
    closed_at: datetime | None


def conversations_oracle(facts: Iterable[ThreadFact]) -> list[ConversationOracle]:
    """DESIGN 1.5: a conversation starts with a message when none is open; it ends 24h
    after its last message, or at a manual close. Statuses are not messages, but a
    message known only by its statuses enters at its first status."""
    facts = list(facts)
    items: list[tuple[datetime, int, int, str, str]] = []
    for f in facts:
        if isinstance(f, InboundMessage):
            items.append((f.at, 0, 0, f.message_id, "user"))
        elif isinstance(f, ManualClose):
            items.append((f.at, 3, 0, f.request_id, "close"))
    for message_id, (t, kind, rank) in introduced_at(facts).items():
        items.append((t, kind, rank, message_id, "business"))
    items.sort()
    found: list[dict[str, Any]] = []
    for t, _, _, ident, who in items:
        current = found[-1] if found else None
        running = current is not None and current["closed_at"] is None and t < current["last"] + DAY
        if who == "close":
            if running and current is not None:
                current["closed_at"] = t
        elif running and current is not None:
            current["ids"].add(ident)
            current["last"] = max(current["last"], t)
        else:
            found.append({"ids": {ident}, "start": t, "last": t, "by": who, "closed_at": None})
    return [
        ConversationOracle(frozenset(c["ids"]), c["start"], c["last"], c["by"], c["closed_at"])
        for c in found
    ]


def conversation_split(log: ThreadLog, at: datetime) -> list[ConversationOracle]:
    """The fold's conversations in the oracle's shape."""
    view = view_thread(log, USER, at)
    members: dict[str, set[str]] = defaultdict(set)
    for m in view.messages:
        assert m.conversation_id is not None, f"{m.record.message_id} is in no conversation"
        members[m.conversation_id].add(m.record.message_id)
    return [
        ConversationOracle(
            frozenset(members[c.conversation.id]),
            c.conversation.started_at,
            c.conversation.last_message_at,
            c.conversation.initiated_by,
            c.conversation.closed_at,
        )
        for c in view.conversations
    ]


def message_ids(facts: Iterable[ThreadFact]) -> set[str]:
    return {
        f.message_id
        for f in facts
        if isinstance(f, InboundMessage | OutboundMessage | StatusUpdate)
    }


# -- 1. order independence ----------------------------------------------------------------


@PROPERTY
@given(timelines(), randoms, instant_offsets)
def test_shuffled_and_duplicated_facts_fold_to_the_same_thread(
    timeline: Timeline, rnd: random.Random, offsets: list[int]
) -> None:
    for at in [*map(timeline.at, offsets), end_of(timeline)]:
        facts = known(timeline.facts, at)
        expected = log_summary(sorted_log(facts), at)
        assert log_summary(shuffled_log(facts, rnd), at) == expected


@PROPERTY
@given(multi_user_facts(), randoms, instant_offsets)
def test_replay_of_shuffled_and_duplicated_facts_gives_the_same_threads(
    generated: tuple[datetime, list[ThreadFact]], rnd: random.Random, offsets: list[int]
) -> None:
    base, facts = generated
    for offset in [*offsets, SPAN_S + 2 * DAY_S]:
        at = base + timedelta(seconds=offset)
        expected = replay(facts, at)
        got = replay(shuffled_with_duplicates(rnd, facts), at)
        assert [summary(v) for v in got.threads] == [summary(v) for v in expected.threads]
        # every fact known at ``at`` lands in exactly one thread
        ids = message_ids(known(facts, at))
        shown = [m.record.message_id for v in got.threads for m in v.messages]
        assert sorted(shown) == sorted(ids)


# -- 2. the customer service window -------------------------------------------------------


def interesting_instants(timeline: Timeline) -> list[datetime]:
    """Around every fact and every inbound + 24h, where off-by-one errors live."""
    found = {end_of(timeline), timeline.base}
    for f in timeline.facts:
        found.update({f.at - SECOND, f.at, f.at + SECOND})
        if isinstance(f, InboundMessage | UserCall):
            found.update({f.at + DAY - SECOND, f.at + DAY, f.at + DAY + SECOND})
    return sorted(found)


@PROPERTY
@given(timelines(), randoms, st.data())
def test_window_is_the_latest_inbound_plus_24h_unless_a_131047_closed_it(
    timeline: Timeline, rnd: random.Random, data: st.DataObject
) -> None:
    candidates = interesting_instants(timeline)
    for at in data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4)):
        facts = known(timeline.facts, at)
        view = view_thread(shuffled_log(facts, rnd), USER, at)
        expected = window_oracle(facts, at, at)
        assert (view.window.open, view.window.last_inbound_at, view.window.expires_at) == (
            expected.open,
            expected.last_inbound_at,
            expected.expires_at,
        )
        margin = window_oracle(facts, at, at + DEFAULT_POLICY.send_margin)
        assert view.can_send_free_form == margin.open


@PROPERTY
@given(timelines(failures=False), randoms, st.data())
def test_without_131047_the_window_is_exactly_the_latest_inbound_plus_24h(
    timeline: Timeline, rnd: random.Random, data: st.DataObject
) -> None:
    candidates = interesting_instants(timeline)
    for at in data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4)):
        facts = known(timeline.facts, at)
        view = view_thread(shuffled_log(facts, rnd), USER, at)
        inbound = [f.at for f in facts if isinstance(f, InboundMessage | UserCall)]
        if not inbound:
            assert not view.window.open
            assert view.window.expires_at is None
            continue
        assert view.window.expires_at == max(inbound) + DAY
        assert view.window.open == (at < max(inbound) + DAY)
        # only a 131047 says "closed"; a free_customer_service price may say "open"
        assert not [d for d in view.drift if d.kind == "window" and d.provider == "closed"]


# -- 3. statuses never downgrade ---------------------------------------------------------------


def check_statuses(log: ThreadLog, facts: Sequence[ThreadFact], at: datetime) -> None:
    view = view_thread(log, USER, at)
    by_id = {m.record.message_id: m for m in view.messages}
    announced = {f.message_id for f in facts if isinstance(f, OutboundMessage)}
    times: dict[str, dict[str, datetime]] = defaultdict(dict)
    for f in facts:
        if isinstance(f, StatusUpdate):
            seen = times[f.message_id]
            seen[f.status] = min(f.at, seen.get(f.status, f.at))
    for message_id in announced | set(times):
        record = by_id[message_id].record
        received = times.get(message_id, {})
        floor = "accepted" if message_id in announced else "queued"
        expected = max([floor, *received], key=lambda s: RANK[s])
        assert record.status == expected, (message_id, received)
        assert dict(record.status_times) == received
        reached = [t for s, t in received.items() if s in ("delivered", "read")]
        assert record.delivered_at == (min(reached) if reached else None)
        assert record.status_time("delivered") == record.delivered_at
        billing = by_id[message_id].billing
        if record.delivered_at is None:
            assert billing is None, "billed before delivery"
        elif message_id in announced:
            assert billing is not None, "delivered but not billed"


@PROPERTY
@given(timelines(), randoms)
def test_status_is_the_highest_received_whatever_the_order(
    timeline: Timeline, rnd: random.Random
) -> None:
    at = end_of(timeline)
    check_statuses(shuffled_log(timeline.facts, rnd), timeline.facts, at)


@PROPERTY
@given(timelines(), randoms, st.data())
def test_a_status_seen_twice_with_different_times_keeps_the_earliest(
    timeline: Timeline, rnd: random.Random, data: st.DataObject
) -> None:
    statuses = [f for f in timeline.facts if isinstance(f, StatusUpdate)]
    if not statuses:
        return
    again = data.draw(st.sampled_from(statuses))
    shift = timedelta(seconds=data.draw(st.sampled_from((1, 600, 3600))))
    other = StatusUpdate(
        again.line, again.message_id, again.status, again.at + shift, again.user, again.errors
    )
    facts = [*timeline.facts, other]
    check_statuses(shuffled_log(facts, rnd), facts, end_of(timeline))


# -- 4. conversations partition the messages ---------------------------------------------------


@PROPERTY
@given(timelines(), randoms)
def test_conversations_partition_the_messages(timeline: Timeline, rnd: random.Random) -> None:
    at = end_of(timeline)
    log = shuffled_log(timeline.facts, rnd)
    view = view_thread(log, USER, at)
    conversations = [c.conversation for c in view.conversations]
    ids = [c.id for c in conversations]
    assert len(set(ids)) == len(ids), "two conversations share an id"

    messages = message_ids(timeline.facts)
    placed = {m.record.message_id: m.conversation_id for m in view.messages}
    assert set(placed) == messages
    assert all(cid in ids for cid in placed.values()), "a message is in an unknown conversation"
    assert sum(c.messages_count for c in conversations) == len(messages)
    entered = {m: t for m, (t, _, _) in introduced_at(timeline.facts).items()}
    entered.update((f.message_id, f.at) for f in timeline.facts if isinstance(f, InboundMessage))
    for c in conversations:
        inside = [entered[m] for m, cid in placed.items() if cid == c.id]
        assert len(inside) == c.messages_count
        assert all(c.started_at <= t <= c.last_message_at for t in inside)
        assert (min(inside), max(inside)) == (c.started_at, c.last_message_at)
    for before, after in itertools.pairwise(conversations):
        gap = after.started_at - before.last_message_at >= DAY
        closed = before.closed_at is not None and before.closed_at <= after.started_at
        assert gap or closed, (before, after)

    assert conversation_split(log, at) == conversations_oracle(timeline.facts)


# -- 5. PMP-1 billing of templates ----------------------------------------------------------------


@PROPERTY
@given(pmp1_timelines(), randoms)
def test_pmp1_utility_inside_the_window_is_free_and_marketing_is_paid_outside_fep(
    timeline: Timeline, rnd: random.Random
) -> None:
    at = end_of(timeline)
    view = view_thread(shuffled_log(timeline.facts, rnd), USER, at)
    for m in view.messages:
        record = m.record
        delivered = record.delivered_at
        if record.category is None or delivered is None:
            continue
        assert m.billing is not None
        assert (m.billing.model, m.billing.source) == ("PMP", "estimated")
        in_fep = fep_open(timeline.facts, delivered)
        in_csw = window_oracle(timeline.facts, delivered, delivered).open
        why = (record.message_id, delivered, in_csw, in_fep, m.billing)
        if in_fep:  # everything inside an open FEP is free
            assert (m.billing.billable, m.billing.type) == (False, "free_entry_point"), why
        elif record.category == "utility" and in_csw:
            assert (m.billing.billable, m.billing.type) == (False, "free_customer_service"), why
        else:  # marketing and authentication always; utility outside the CSW
            assert (m.billing.billable, m.billing.type) == (True, "regular"), why


@PROPERTY
@given(pmp1_timelines(), randoms, st.data())
def test_free_entry_point_runs_72h_from_the_first_reply_within_24h_of_a_referral(
    timeline: Timeline, rnd: random.Random, data: st.DataObject
) -> None:
    found = set(interesting_instants(timeline))
    for f in timeline.facts:
        found.update({f.at + FEP - SECOND, f.at + FEP, f.at + DAY - SECOND, f.at + DAY})
    for at in data.draw(st.lists(st.sampled_from(sorted(found)), min_size=1, max_size=4)):
        facts = known(timeline.facts, at)
        view = view_thread(shuffled_log(facts, rnd), USER, at)
        assert view.entry_point.open == fep_open(facts, at)


# -- 6. PMP-2 monthly free tier for service messages ----------------------------------------------

NOV = datetime(2026, 11, 10, tzinfo=UTC)
USERS = [Identity.of(wa_id=f"1650556{i:04d}") for i in range(40)]


def free_form(
    line: str, message_id: str, user: Identity, sent: datetime, delivered: datetime, how: str
) -> list[ThreadFact]:
    facts: list[ThreadFact] = [
        OutboundMessage(line, message_id, sent, user, "text"),
        StatusUpdate(line, message_id, "sent", sent + SECOND, user),
    ]
    if how in ("delivered", "both"):
        facts.append(StatusUpdate(line, message_id, "delivered", delivered, user))
    if how in ("read", "both"):  # read alone: delivered at the read (DESIGN 1.6)
        read = delivered + 2 * SECOND if how == "both" else delivered
        facts.append(StatusUpdate(line, message_id, "read", read, user))
    return facts


def free_tier_facts(slots: Sequence[int]) -> list[ThreadFact]:
    """1,001 delivered free-form messages on LINE in November 2026, and noise."""
    facts: list[ThreadFact] = []
    for u, user in enumerate(USERS):
        facts.append(InboundMessage(LINE, f"in.{u}", NOV + u * SECOND, user, "text"))
        facts.append(InboundMessage(OTHER_LINE, f"in2.{u}", NOV + u * SECOND, user, "text"))
    start = NOV + timedelta(hours=1)
    for k, slot in enumerate(slots):
        sent = start + timedelta(seconds=30 * slot)
        how = ("delivered", "both", "read")[k % 3]
        facts += free_form(LINE, f"ff.{k}", USERS[k % 40], sent, sent + 5 * SECOND, how)
    for k in range(20):  # sent, never delivered: not counted
        at = start + timedelta(seconds=7 + 97 * k)
        facts.append(OutboundMessage(LINE, f"undelivered.{k}", at, USERS[k], "text"))
    for k in range(15):  # delivered templates: not service
        at = start + timedelta(seconds=11 + 101 * k)
        user = USERS[k]
        tpl = TemplateRef("receipt", "en_US")
        facts.append(OutboundMessage(LINE, f"tpl.{k}", at, user, "template", tpl, "utility"))
        facts.append(StatusUpdate(LINE, f"tpl.{k}", "delivered", at + SECOND, user))
    for k in range(10):  # another line has its own allowance
        at = start + timedelta(seconds=13 + 113 * k)
        facts += free_form(OTHER_LINE, f"other.{k}", USERS[k], at, at + SECOND, "delivered")
    october = datetime(2026, 10, 31, 12, tzinfo=UTC)
    for k in range(5):  # another month
        user = USERS[k]
        facts.append(InboundMessage(LINE, f"in.oct.{k}", october, user, "text"))
        at = october + timedelta(minutes=k + 1)
        facts += free_form(LINE, f"oct.{k}", user, at, at + SECOND, "delivered")
    december_eve = datetime(2026, 11, 30, 23, 59, 50, tzinfo=UTC)
    for k in range(3):  # sent in November, delivered in December
        user = USERS[k]
        facts.append(InboundMessage(LINE, f"in.dec.{k}", december_eve, user, "text"))
        at = december_eve + timedelta(seconds=k)
        facts += free_form(LINE, f"dec.{k}", user, at, at + 20 * SECOND, "delivered")
    return facts


@settings(
    max_examples=5,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a seed is no use
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(st.integers(0, 2**32 - 1))
def test_pmp2_the_1001st_delivered_service_message_of_the_month_is_the_first_billable(
    seed: int,
) -> None:
    rnd = random.Random(seed)  # 1,001 messages: a seed keeps Hypothesis' input small
    slots = list(range(1001))
    rnd.shuffle(slots)  # which message is delivered when
    facts = free_tier_facts(slots)
    result = replay(shuffled_with_duplicates(rnd, facts), datetime(2026, 12, 2, tzinfo=UTC))
    billing = {
        (v.line, m.record.message_id): (m.record.delivered_at, m.billing)
        for v in result.threads
        for m in v.messages
        if m.record.direction == "outbound"
    }
    november = sorted(
        (delivered, message_id)
        for (line, message_id), (delivered, b) in billing.items()
        if line == LINE
        and message_id.startswith("ff.")
        and delivered is not None
        and delivered.month == 11
    )
    assert len(november) == 1001
    first_billable = november[1000][1]
    for (line, message_id), (_, b) in billing.items():
        if message_id.startswith("undelivered."):
            assert b is None
            continue
        assert b is not None, message_id
        if message_id.startswith("tpl."):
            assert (b.category, b.billable) == ("utility", True)  # PMP-2: utility in CSW paid
            continue
        assert b.category == "service", message_id
        if (line, message_id) == (LINE, first_billable):
            assert (b.billable, b.type) == (True, "regular"), message_id
        else:
            assert (b.billable, b.type) == (False, "free_customer_service"), message_id


# -- 7. conversation ids stay resolvable ------------------------------------------------------


def resolves_without_cycle(log: ThreadLog, conversation_id: str) -> str:
    seen = {conversation_id}
    while conversation_id in log.aliases:
        conversation_id = log.aliases[conversation_id]
        assert conversation_id not in seen, f"alias cycle through {conversation_id}"
        seen.add(conversation_id)
    assert log.resolve(conversation_id) == conversation_id
    return conversation_id


@PROPERTY
@given(timelines(), randoms)
def test_conversation_ids_handed_out_stay_resolvable(
    timeline: Timeline, rnd: random.Random
) -> None:
    log = ThreadLog(LINE, DEFAULT_POLICY, snapshot_every=4)
    handed_out: set[str] = set()
    for fact in shuffled_with_duplicates(rnd, timeline.facts):
        log.add(fact)
        handed_out.update(log.placements().values())
    current = {c.id for c in log.conversations()}
    for conversation_id in handed_out:
        assert resolves_without_cycle(log, conversation_id) in current, conversation_id


@PROPERTY
@given(timelines(), randoms)
def test_conversation_ids_named_in_events_stay_resolvable(
    timeline: Timeline, rnd: random.Random
) -> None:
    log = ThreadLog(LINE, DEFAULT_POLICY, snapshot_every=4)
    named: set[str] = set()
    for fact in shuffled_with_duplicates(rnd, timeline.facts):
        for e in log.add(fact):
            if e.type.startswith("conversation."):
                named.add(e.subject)
    current = {c.id for c in log.conversations()}
    for conversation_id in named:
        assert resolves_without_cycle(log, conversation_id) in current, conversation_id


# -- the smallest cases the properties found -----------------------------------------------------

T10 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def said(user_message: str, minutes: int) -> InboundMessage:
    return InboundMessage(LINE, user_message, T10 + timedelta(minutes=minutes), USER, "text")


def test_a_late_close_that_splits_a_conversation_leaves_two_distinct_ids() -> None:
    log = ThreadLog(LINE, DEFAULT_POLICY)
    log.add(said("m2", 30))
    handed_out = log.placements()["m2"]
    log.add(said("m1", 0))  # earlier: joins m2's conversation, which keeps its id
    assert log.placements() == {"m1": handed_out, "m2": handed_out}
    log.add(ManualClose(LINE, "close1", T10 + timedelta(minutes=15), USER))
    ids = [c.id for c in log.conversations()]
    assert len(ids) == 2
    assert len(set(ids)) == 2, f"both parts of the split are called {ids[0]}"
    placed = log.placements()
    assert placed["m1"] != placed["m2"]
    assert log.resolve(handed_out) in ids


def test_events_folded_forward_after_a_refold_name_the_id_handed_out() -> None:
    log = ThreadLog(LINE, DEFAULT_POLICY)
    log.add(said("b", 0))
    handed_out = log.placements()["b"]
    log.add(said("a", 0))  # same second, sorts first: the computed id changes, the id stays
    assert {c.id for c in log.conversations()} == {handed_out}
    events = log.add(said("c", 40))  # 40 min later: the inactive conversation reactivates
    reactivated = [e.subject for e in events if e.type == "conversation.reactivated"]
    assert reactivated == [handed_out]


def test_a_late_earlier_status_that_opens_a_24h_gap_leaves_two_distinct_ids() -> None:
    def status(name: str, at: datetime) -> StatusUpdate:
        return StatusUpdate(LINE, "out1", name, at, USER)

    log = ThreadLog(LINE, DEFAULT_POLICY)
    log.add(said("in1", 24 * 60))  # the next day at 10:00
    log.add(status("delivered", T10 + SECOND))  # 23:59:59 before: one conversation
    assert len(log.conversations()) == 1
    log.add(status("sent", T10))  # the message now entered exactly 24h before in1
    ids = [c.id for c in log.conversations()]
    assert len(ids) == 2
    assert len(set(ids)) == 2, f"both parts of the split are called {ids[0]}"
    assert log.placements()["out1"] != log.placements()["in1"]
