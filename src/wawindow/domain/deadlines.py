"""The next due times of a thread's state, for the scheduler (DESIGN 1.9).

Pure: given a state, the instants at which something happens by the passing of
time alone. The scheduler keeps the earliest one indexed and, when a fact
changes the state, replaces them with the new state's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wawindow.domain.policy import Policy
from wawindow.domain.thread import ThreadState


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
