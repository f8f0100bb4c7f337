"""Where a thread stands at an instant: what ``replay`` prints and the API answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from wawindow.domain.conversations import Conversation, ConversationStatus, EndedReason
from wawindow.domain.drift import Drift
from wawindow.domain.facts import Direction
from wawindow.domain.identity import Identity
from wawindow.domain.messages import MessageRecord
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import Billing, era_named
from wawindow.domain.settlement import TierCandidate, apply_free_tier, settle
from wawindow.domain.thread import ThreadState
from wawindow.domain.timeline import ThreadLog


@dataclass(frozen=True, slots=True)
class WindowView:
    open: bool
    last_inbound_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class EntryPointView:
    open: bool
    opened_at: datetime | None
    expires_at: datetime | None
    unanswered: bool


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation: Conversation
    status: ConversationStatus
    ended_at: datetime | None
    ended_reason: EndedReason | None


@dataclass(frozen=True, slots=True)
class MessageView:
    record: MessageRecord
    conversation_id: str | None
    billing: Billing | None
    free_tier_candidate: bool = False  # a PMP-2 service message the monthly allowance may cover


@dataclass(frozen=True, slots=True)
class ThreadView:
    line: str
    contact: Identity
    at: datetime
    window: WindowView
    entry_point: EntryPointView
    can_send_free_form: bool
    conversations: tuple[ConversationView, ...]
    messages: tuple[MessageView, ...]
    drift: tuple[Drift, ...]


def window_view(state: ThreadState, at: datetime) -> WindowView:
    window = state.window
    return WindowView(window.is_open(at), window.last_inbound_at, window.ends_at)


def entry_point_view(state: ThreadState, at: datetime) -> EntryPointView:
    fep = state.entry_point
    return EntryPointView(fep.is_open(at), fep.opened_at, fep.expires_at, fep.is_unanswered(at))


def conversation_view(conversation: Conversation, at: datetime, policy: Policy) -> ConversationView:
    return ConversationView(
        conversation,
        conversation.status(at, policy.inactive_after),
        conversation.ended_at(at),
        conversation.ended_reason(at),
    )


def tier_candidates(log: ThreadLog) -> list[TierCandidate]:
    """This thread's delivered service messages that the line's monthly allowance may cover."""
    found = []
    for message_id, estimate in log.estimates().items():
        delivered_at = log.records[message_id].delivered_at
        era = era_named(estimate.era)
        allowance = era.free_service_messages_per_month if era else None
        if estimate.counts_toward_free_tier and delivered_at is not None and allowance is not None:
            found.append(TierCandidate(log.line, delivered_at, message_id, allowance))
    return found


def view_thread(
    log: ThreadLog,
    contact: Identity,
    at: datetime,
    past_allowance: Iterable[str] = (),
) -> ThreadView:
    """The thread as its facts show it at ``at`` (the log holds only facts up to ``at``).

    ``past_allowance`` names the line's service messages beyond the monthly free tier.
    """
    state, policy = log.state, log.policy
    messages, drift = _messages(log, frozenset(past_allowance), at)
    return ThreadView(
        line=log.line,
        contact=contact,
        at=at,
        window=window_view(state, at),
        entry_point=entry_point_view(state, at),
        can_send_free_form=state.window.is_open(at + policy.send_margin),
        conversations=tuple(conversation_view(c, at, policy) for c in log.conversations()),
        messages=messages,
        drift=tuple(sorted((*log.drift(), *drift), key=lambda d: (d.at, d.message_id, d.kind))),
    )


def _messages(
    log: ThreadLog, past_allowance: frozenset[str], at: datetime
) -> tuple[tuple[MessageView, ...], list[Drift]]:
    views, drift = message_views(log, log.records, past_allowance)
    views.sort(key=lambda v: (v.record.at or at, v.record.message_id))
    return tuple(views), drift


def message_views(
    log: ThreadLog, message_ids: Iterable[str], past_allowance: frozenset[str] = frozenset()
) -> tuple[list[MessageView], list[Drift]]:
    """These messages as they stand, with their settled billing and any billing drift."""
    estimates = log.estimates_of(message_ids)
    views: list[MessageView] = []
    drift: list[Drift] = []
    for message_id in message_ids:
        record = log.records.get(message_id)
        if record is None:
            continue
        billing: Billing | None = None
        estimate = estimates.get(message_id)
        if record.direction is Direction.OUTBOUND:
            if estimate is not None:
                estimate = apply_free_tier(estimate, message_id in past_allowance)
            billing, disagreement = settle(record, estimate)
            if disagreement is not None:
                drift.append(disagreement)
        candidate = estimate is not None and estimate.counts_toward_free_tier
        views.append(MessageView(record, log.conversation_of(message_id), billing, candidate))
    return views, drift
