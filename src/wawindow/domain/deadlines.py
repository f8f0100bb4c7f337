"""The next due times of a thread's state, for the scheduler (DESIGN 1.9).

Pure: given a state, the instants at which something happens by the passing of
time alone. The scheduler keeps the earliest one indexed and, when a fact
changes the state, replaces them with the new state's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from wawindow.domain.policy import Policy
from wawindow.domain.thread import ThreadState
from wawindow.domain.times import DAY, FEP_REPLY_WINDOW


@dataclass(frozen=True, slots=True, order=True)
class Deadline:
    due_at: datetime
    type: str
    subject: str  # the conversation id, or the message id that opened the window / lead

    @property
    def key(self) -> str:
        return f"{self.type}:{self.subject}:{self.due_at.isoformat()}"


def deadlines(state: ThreadState, policy: Policy) -> list[Deadline]:
    """Every time-driven event this state will produce, earliest first."""
    found = [*_conversation_deadlines(state, policy), *_window_deadlines(state, policy)]
    found.extend(_entry_point_deadlines(state, policy))
    return sorted(found)


def due_after(state: ThreadState, policy: Policy, after: datetime) -> list[Deadline]:
    """The deadlines still ahead of ``after`` (what a scheduler must keep)."""
    return [d for d in deadlines(state, policy) if d.due_at > after]


def next_due(state: ThreadState, policy: Policy, after: datetime) -> Deadline | None:
    ahead = due_after(state, policy, after)
    return ahead[0] if ahead else None


def _conversation_deadlines(state: ThreadState, policy: Policy) -> list[Deadline]:
    conversation = state.conversation
    if conversation is None or conversation.closed_at is not None:
        return []  # a manual close emitted conversation.ended when it happened
    inactive = conversation.last_message_at + policy.inactive_after
    found = [Deadline(conversation.timeout_at, "conversation.ended", conversation.id)]
    if inactive < conversation.timeout_at:
        found.append(Deadline(inactive, "conversation.inactive", conversation.id))
    return found


def _window_deadlines(state: ThreadState, policy: Policy) -> list[Deadline]:
    window = state.window
    ends, opened = window.ends_at, window.last_inbound_at
    if ends is None or opened is None:
        return []
    subject = opened.isoformat()
    found = [Deadline(ends, "window.closed", subject)]
    for lead in policy.window_expiring_leads:
        if ends - lead > opened:
            found.append(Deadline(ends - lead, "window.expiring", subject))
    return found


def _entry_point_deadlines(state: ThreadState, policy: Policy) -> list[Deadline]:
    fep = state.entry_point
    found: list[Deadline] = []
    if fep.opened_at is not None and fep.expires_at is not None:
        found.append(Deadline(fep.expires_at, "fep.closed", fep.opened_at.isoformat()))
    deadline = fep.lead_deadline
    if deadline is not None and fep.lead_message_id is not None:
        found.append(Deadline(deadline, "lead.unanswered", fep.lead_message_id))
        warning = deadline - policy.lead_unanswered_warning
        if fep.lead_at is not None and warning > fep.lead_at:
            found.append(Deadline(warning, "lead.unanswered_soon", fep.lead_message_id))
    return found


# --------------------------------------------------------------------------- keeping the index


@dataclass(frozen=True, slots=True)
class DuePlan:
    """How a thread's indexed due times change when a fold moves its state.

    ``cancel``: due times the old state had and the new one does not, after the
    fact that changed it (a new inbound at 10:10 cancels the window.closed and
    the conversation.inactive it pushes later). A due time of the old state at or
    before that fact is not cancelled: it came true before the fact (the window
    did close at 10:00 when the user writes again at 10:30), so it is emitted.
    ``add``: due times only the new state has (they may lie in the past, e.g.
    a window that a provider's 131047 closed earlier).
    ``replace_all``: forget what was indexed and keep ``add`` (after a contact merge,
    where the old states are not known).
    """

    cancel: tuple[Deadline, ...] = ()
    add: tuple[Deadline, ...] = ()
    replace_all: bool = False


def plan_due_changes(
    before: Iterable[Deadline], after: Iterable[Deadline], since: datetime
) -> DuePlan:
    """The change from ``before`` to ``after``, caused by a fact at ``since``."""
    old, new = set(before), set(after)
    cancel = sorted(d for d in old - new if d.due_at > since)
    return DuePlan(tuple(cancel), tuple(sorted(new - old)))


def replace_due(after: Iterable[Deadline], now: datetime) -> DuePlan:
    """Index only what is still ahead of ``now`` (what came before was planned before)."""
    return DuePlan((), tuple(sorted(d for d in after if d.due_at > now)), replace_all=True)


# An indexed due time from which a setting's own due times are derived again.
_ANCHOR_TYPES: Final = frozenset({"conversation.ended", "window.closed", "lead.unanswered"})


def is_policy_anchor(deadline: Deadline) -> bool:
    return deadline.type in _ANCHOR_TYPES


def replan_for_policy(
    anchor: Deadline, old: Policy, new: Policy, now: datetime
) -> tuple[list[Deadline], list[Deadline]]:
    """(cancel, add) when a tenant's settings change, for one pending anchor.

    The due times that depend on a setting hang off one that does not: the
    inactivity of a conversation off its end (24h after its last message), the
    window.expiring warnings off the window's close, the unanswered-lead warning
    off the lead's deadline. Only what is still ahead of ``now`` under the old
    settings is cancelled, and only what is still ahead under the new ones is
    added: an event that went out is not taken back, nor one emitted late.
    """
    old_due = set(_derived(anchor, old))
    new_due = set(_derived(anchor, new))
    cancel = sorted(d for d in old_due - new_due if d.due_at > now)
    add = sorted(d for d in new_due - old_due if d.due_at > now)
    return cancel, add


def _derived(anchor: Deadline, policy: Policy) -> list[Deadline]:
    ends, subject = anchor.due_at, anchor.subject
    if anchor.type == "conversation.ended":
        inactive = ends - DAY + policy.inactive_after
        return [Deadline(inactive, "conversation.inactive", subject)] if inactive < ends else []
    if anchor.type == "window.closed":
        opened = _instant(subject)
        return [
            Deadline(ends - lead, "window.expiring", subject)
            for lead in policy.window_expiring_leads
            if opened is None or ends - lead > opened
        ]
    if anchor.type == "lead.unanswered":
        warning = ends - policy.lead_unanswered_warning
        lead_at = ends - FEP_REPLY_WINDOW
        return [Deadline(warning, "lead.unanswered_soon", subject)] if warning > lead_at else []
    return []


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
