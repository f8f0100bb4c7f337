"""Read-side use cases: what the API answers, computed for the moment of the request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from wawindow.domain.conversations import Conversation, ConversationStatus
from wawindow.domain.policy import DEFAULT_POLICY, Policy
from wawindow.domain.thread_view import ConversationView, conversation_view
from wawindow.domain.times import DAY


@dataclass(frozen=True, slots=True)
class StoredConversation:
    conversation: Conversation
    tenant_id: str
    thread_id: str
    line: str
    contact_id: str
    contact_phone: str | None
    contact_bsuid: str | None
    contact_name: str | None
    external_ref: str | None


@dataclass(frozen=True, slots=True)
class StatusWindow:
    """A conversation status at ``now`` as conditions on stored times (for SQL).

    ``ended``: closed at or before ``now``, or its last message at or before
    ``ended_before``; ``active``: not ended and its last message after ``inactive_before``.
    """

    status: ConversationStatus
    now: datetime
    ended_before: datetime
    inactive_before: datetime


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    status: StatusWindow | None = None
    line: str | None = None
    external_ref: str | None = None
    contact_phone: str | None = None  # digits, as stored for wa_id
    contact_bsuid: str | None = None
    since: datetime | None = None  # on started_at, inclusive
    until: datetime | None = None  # on started_at, exclusive
    after: tuple[datetime, str] | None = None  # cursor: (started_at, id) of the last item seen


@dataclass(frozen=True, slots=True)
class ConversationListing:
    items: list[tuple[StoredConversation, ConversationView]]
    total: int
    page: int
    page_size: int
    next_cursor: tuple[datetime, str] | None


class QueryStore(Protocol):
    def conversations(
        self, tenant_id: str, where: ConversationFilter, offset: int, limit: int
    ) -> tuple[list[StoredConversation], int]:
        """A tenant's conversations, newest first, and how many match in all."""

    def conversation(self, tenant_id: str, conversation_id: str) -> StoredConversation | None:
        """One conversation; an id absorbed by a merge gives the surviving one."""


def status_window(status: ConversationStatus, now: datetime, policy: Policy) -> StatusWindow:
    return StatusWindow(status, now, now - DAY, now - policy.inactive_after)


def list_conversations(
    store: QueryStore,
    tenant_id: str,
    now: datetime,
    where: ConversationFilter | None = None,
    page: int = 1,
    page_size: int = 50,
    policy: Policy = DEFAULT_POLICY,
) -> ConversationListing:
    """Status (active / inactive / ended) is computed for ``now``, never stored stale."""
    where = where or ConversationFilter()
    offset = 0 if where.after is not None else (page - 1) * page_size
    rows, total = store.conversations(tenant_id, where, offset, page_size + 1)
    more = len(rows) > page_size
    rows = rows[:page_size]
    items = [(row, conversation_view(row.conversation, now, policy)) for row in rows]
    last = rows[-1].conversation if rows and more else None
    cursor = (last.started_at, last.id) if last else None
    return ConversationListing(items, total, page, page_size, cursor)


def find_conversation(
    store: QueryStore,
    tenant_id: str,
    conversation_id: str,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[StoredConversation, ConversationView] | None:
    found = store.conversation(tenant_id, conversation_id)
    if found is None:
        return None
    return found, conversation_view(found.conversation, now, policy)
