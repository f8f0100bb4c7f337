"""What a fold changed in a thread, in the shape the read models store."""

from __future__ import annotations

from collections.abc import Sequence

from wawindow.domain.events import DomainEvent
from wawindow.domain.thread_view import message_views
from wawindow.domain.timeline import ThreadLog
from wawindow.service.ports import ThreadChanges, ThreadRef


def thread_changes(
    thread: ThreadRef,
    version: int,
    log: ThreadLog,
    events: Sequence[DomainEvent],
    full: bool = False,
) -> ThreadChanges:
    """``events``: the fold's; a billing drift found now adds its ``billing.drift``
    (a window drift is an event of the fold itself)."""
    state = log.state
    window, fep = state.window, state.entry_point
    summary = {
        "window": {"last_inbound_at": window.last_inbound_at, "ends_at": window.ends_at},
        "free_entry_point": {
            "opened_at": fep.opened_at,
            "expires_at": fep.expires_at,
            "lead_at": fep.lead_at,
            "answered": fep.answered,
        },
        "conversation_id": log.public_id(state.conversation.id) if state.conversation else None,
    }
    ids = set(log.records) if full else log.changed_messages()
    views, drift = message_views(log, ids)
    conversations = log.conversations() if full else log.changed_conversations()
    return ThreadChanges(
        thread=thread,
        version=version,
        last_inbound_at=window.last_inbound_at,
        window_ends_at=window.ends_at,
        state=summary,
        conversations=conversations,
        aliases=dict(log.aliases),
        messages=views,
        drift=[*drift, *log.changed_drift()],
        events=[*events, *(item.event() for item in drift)],
        full=full,
    )
