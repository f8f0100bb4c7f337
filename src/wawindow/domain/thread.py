"""The fold of one (business line, contact) thread: ``evolve(state, fact) -> Step``.

Facts are folded in canonical order (``timeline.fact_order``); the state is
small and bounded (the service window, the free entry point, open CBP billing
conversations, the latest conversation), so each step costs O(1) whatever the
length of the history. What a step decides about one message (its
conversation, its estimated billing, a drift) comes out in the ``Step``; the
caller keeps those.

Per-message facts are looked up in ``MessageRecord``s, which merge all facts of
a message in any order. A message enters its conversation at its *first* fact
(the send, or the first status of a message we never saw sent) and is billed at
its *delivery* fact (the earliest ``delivered``/``read``/``played``), so the
result is the same whatever order the facts came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from wawindow.domain.categories import Category
from wawindow.domain.conversations import (
    Conversation,
    ConversationStatus,
    EndedReason,
    MessageSeen,
    add_message,
    close_conversation,
    start_conversation,
)
from wawindow.domain.drift import Drift, DriftKind
from wawindow.domain.entry_point import EntryPoint
from wawindow.domain.events import DomainEvent, event
from wawindow.domain.facts import (
    Direction,
    InboundMessage,
    ManualClose,
    OutboundMessage,
    StatusUpdate,
    ThreadFact,
    UserCall,
)
from wawindow.domain.messages import DELIVERED_RANK, MessageRecord, status_rank
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import (
    Billing,
    BillingType,
    CbpConversations,
    Model,
    PricingContext,
    era_at,
    estimate_cbp,
    estimate_pmp,
    message_category,
)
from wawindow.domain.service_window import ServiceWindow


@dataclass(frozen=True, slots=True)
class ThreadState:
    line: str
    window: ServiceWindow = field(default_factory=ServiceWindow)
    entry_point: EntryPoint = field(default_factory=EntryPoint)
    cbp: CbpConversations = field(default_factory=CbpConversations)
    conversation: Conversation | None = None  # the latest one, open or ended


@dataclass(frozen=True, slots=True)
class Step:
    state: ThreadState
    sealed: Conversation | None = None  # the conversation a new one followed (final)
    placed: tuple[str, str] | None = None  # (message id, conversation id)
    billing: tuple[str, Billing] | None = None  # estimated billing of a message delivered here
    drift: Drift | None = None
    events: tuple[DomainEvent, ...] = ()


def evolve(
    state: ThreadState, fact: ThreadFact, records: Mapping[str, MessageRecord], policy: Policy
) -> Step:
    match fact:
        case InboundMessage():
            return _on_inbound(state, fact, policy)
        case UserCall():
            window, events = _open_window(state.window, fact.at, fact.call_id)
            return Step(replace(state, window=window), events=events)
        case OutboundMessage():
            return _on_outbound(state, fact, records.get(fact.message_id), policy)
        case StatusUpdate():
            return _on_status(state, fact, records.get(fact.message_id), policy)
        case ManualClose():
            return _on_close(state, fact)


def _on_inbound(state: ThreadState, fact: InboundMessage, policy: Policy) -> Step:
    window, events = _open_window(state.window, fact.at, fact.message_id)
    entry_point = state.entry_point
    if fact.referral is not None:
        entry_point = entry_point.on_referral(fact.at, fact.message_id)
    seen = MessageSeen(
        fact.line,
        fact.message_id,
        fact.at,
        Direction.INBOUND,
        from_referral=fact.referral is not None,
    )
    received = event("message.received", fact.at, fact.message_id, type=fact.type)
    step = _place(replace(state, window=window, entry_point=entry_point), seen, policy)
    return replace(step, events=(*events, received, *step.events))


def _open_window(
    window: ServiceWindow, at: datetime, cause: str
) -> tuple[ServiceWindow, tuple[DomainEvent, ...]]:
    was_open = window.is_open(at)
    opened = window.on_inbound(at)
    expires = opened.expires_at.isoformat() if opened.expires_at else None
    kind = "window.extended" if was_open else "window.opened"
    return opened, (event(kind, at, cause, expires_at=expires),)


def _on_outbound(
    state: ThreadState, fact: OutboundMessage, record: MessageRecord | None, policy: Policy
) -> Step:
    if record is not None and _introduced_by(record) != ("outbound", fact.at):
        return Step(state)  # a status introduced this message earlier in time
    category = message_category(fact.is_template, record.category if record else fact.category)
    return _business_message(state, fact.line, fact.message_id, fact.at, category, policy)


def _business_message(
    state: ThreadState,
    line: str,
    message_id: str,
    at: datetime,
    category: str | None,
    policy: Policy,
) -> Step:
    before = state.entry_point
    entry_point = before.on_business_message(at)
    events: tuple[DomainEvent, ...] = ()
    if entry_point.opened_at == at and before.opened_at != at:
        expires = entry_point.expires_at.isoformat() if entry_point.expires_at else None
        events = (event("fep.opened", at, message_id, expires_at=expires),)
    seen = MessageSeen(line, message_id, at, Direction.OUTBOUND, category=category)
    step = _place(replace(state, entry_point=entry_point), seen, policy)
    return replace(step, events=(*events, *step.events))


def _place(state: ThreadState, seen: MessageSeen, policy: Policy) -> Step:
    """Put a message into the open conversation, or start a new one."""
    current = state.conversation
    if current is None or not current.is_open(seen.at):
        started = start_conversation(seen)
        created = event("conversation.created", seen.at, started.id, origin=started.origin)
        return Step(
            replace(state, conversation=started),
            sealed=current,
            placed=(seen.message_id, started.id),
            events=(created,),
        )
    events: tuple[DomainEvent, ...] = ()
    if current.status(seen.at, policy.inactive_after) is ConversationStatus.INACTIVE:
        events = (event("conversation.reactivated", seen.at, current.id),)
    updated = add_message(current, seen)
    return Step(
        replace(state, conversation=updated), placed=(seen.message_id, current.id), events=events
    )


def _on_close(state: ThreadState, fact: ManualClose) -> Step:
    current = state.conversation
    if current is None or not current.is_open(fact.at):
        return Step(state)
    reason = EndedReason(fact.reason.value)
    closed = close_conversation(current, fact.at, reason)
    ended = event("conversation.ended", fact.at, current.id, reason=reason.value)
    return Step(replace(state, conversation=closed), events=(ended,))


def _introduced_by(record: MessageRecord) -> tuple[str, datetime] | None:
    """Which fact brings a message into the thread: its send, else its earliest status."""
    first_status = min(
        ((t, status_rank(s), s) for s, t in record.status_times.items()), default=None
    )
    if record.sent_at is not None and (first_status is None or record.sent_at <= first_status[0]):
        return ("outbound", record.sent_at)
    if first_status is None:
        return None
    return (first_status[2], first_status[0])


def _delivered_by(record: MessageRecord) -> tuple[str, datetime] | None:
    """The status at which a message counts as delivered (and is billed)."""
    candidates = [
        (t, status_rank(s), s)
        for s, t in record.status_times.items()
        if status_rank(s) >= DELIVERED_RANK
    ]
    if not candidates:
        return None
    at, _, status = min(candidates)
    return (status, at)


def _on_status(
    state: ThreadState, fact: StatusUpdate, record: MessageRecord | None, policy: Policy
) -> Step:
    if record is None or record.direction is Direction.INBOUND:
        return Step(state)
    step = Step(state)
    if _introduced_by(record) == (fact.status, fact.at):
        category = message_category(record.is_template, record.category) if record.type else None
        step = _business_message(state, fact.line, fact.message_id, fact.at, category, policy)
    step = _apply_provider_evidence(step, fact, record)
    if _delivered_by(record) == (fact.status, fact.at):
        step = _bill(step, record, fact.at, policy)
    status_event = event("message.status", fact.at, fact.message_id, status=fact.status)
    return replace(step, events=(*step.events, status_event))


def _bill(step: Step, record: MessageRecord, at: datetime, policy: Policy) -> Step:
    """Estimate the billing of a message delivered at ``at`` from the thread as it is then."""
    state = step.state
    era = era_at(at, policy.timezone)
    category = message_category(record.is_template, record.category) if record.type else None
    if era is None or category is None:
        return step
    context = PricingContext(state.window.is_open(at), state.entry_point.is_open(at))
    if era.model is Model.CBP:
        billing, cbp = estimate_cbp(era, category, context, state.cbp, at)
        state = replace(state, cbp=cbp)
    else:
        billing = estimate_pmp(era, category, context)
    return replace(step, state=state, billing=(record.message_id, billing))


def _apply_provider_evidence(step: Step, fact: StatusUpdate, record: MessageRecord) -> Step:
    sent_at = record.sent_at or record.at or fact.at
    step = _entry_point_evidence(step, fact, sent_at)
    window = step.state.window
    if not window.can_judge(sent_at):
        return step  # the user wrote after this send: the evidence is about an older window
    if fact.status == "failed" and record.failed_with_re_engagement and window.is_open(sent_at):
        drift = Drift(DriftKind.WINDOW, record.message_id, sent_at, "open", "closed", "131047")
        closed = replace(step.state, window=window.closed_by_provider(sent_at))
        return replace(step, state=closed, drift=drift, events=(*step.events, drift.event()))
    pricing = fact.pricing
    free_service = pricing is not None and pricing.type == BillingType.FREE_CUSTOMER_SERVICE
    if free_service and not window.is_open(sent_at):
        detail = "pricing type free_customer_service"
        drift = Drift(DriftKind.WINDOW, record.message_id, sent_at, "closed", "open", detail)
        return replace(step, drift=drift, events=(*step.events, drift.event()))
    return step


_FEP_ORIGINS = frozenset({BillingType.FREE_ENTRY_POINT, Category.REFERRAL_CONVERSION})


def _entry_point_evidence(step: Step, fact: StatusUpdate, sent_at: datetime) -> Step:
    """A status that says the message was in a free entry point fixes that window's expiry."""
    conversation = fact.conversation
    if conversation is None or conversation.expires_at is None:
        return step
    in_fep = conversation.origin_type in _FEP_ORIGINS or (
        fact.pricing is not None and fact.pricing.type == BillingType.FREE_ENTRY_POINT
    )
    if not in_fep or conversation.expires_at <= sent_at:
        return step
    entry_point: EntryPoint = step.state.entry_point.on_provider_expiry(
        sent_at, conversation.expires_at
    )
    return replace(step, state=replace(step.state, entry_point=entry_point))
