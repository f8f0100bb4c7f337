"""Read-side use cases: what the API answers, computed for the moment of the request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from wawindow.domain.conversations import Conversation
from wawindow.domain.policy import DEFAULT_POLICY, Policy
from wawindow.domain.thread_view import ConversationView, conversation_view


@dataclass(frozen=True, slots=True)
class StoredConversation:
    conversation: Conversation
    tenant_id: str
    line: str
    contact_id: str
    contact_phone: str | None
    contact_bsuid: str | None
    contact_name: str | None
    external_ref: str | None


@dataclass(frozen=True, slots=True)
class ConversationListing:
    items: list[tuple[StoredConversation, ConversationView]]
    total: int
    page: int
    page_size: int


class QueryStore(Protocol):
    def conversations(
        self, tenant_id: str, offset: int, limit: int
    ) -> tuple[list[StoredConversation], int]:
        """A tenant's conversations, newest first, and how many there are in all."""


def list_conversations(
    store: QueryStore,
    tenant_id: str,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
    policy: Policy = DEFAULT_POLICY,
) -> ConversationListing:
    """Status (active / inactive / ended) is computed for ``now``, never stored stale."""
    rows, total = store.conversations(tenant_id, (page - 1) * page_size, page_size)
    items = [(row, conversation_view(row.conversation, now, policy)) for row in rows]
    return ConversationListing(items, total, page, page_size)
