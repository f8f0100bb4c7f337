"""Conversations: the product-level thread between a line and a contact (DESIGN 1.5).

A conversation starts with the first message in either direction when none is
open, and ends 24h after its last message (``timeout``) or at once when closed
through the API (``manual_close``/``agent_close``). In between it is ``active``
while the last message is less than ``inactive_after`` old, else ``inactive``.
The split of messages into conversations depends only on message times and
closes, so it is the same in any arrival order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from wawindow.domain.facts import Direction
from wawindow.domain.times import DAY


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ENDED = "ended"


class EndedReason(StrEnum):
    TIMEOUT = "timeout"
    MANUAL_CLOSE = "manual_close"
    AGENT_CLOSE = "agent_close"


class Origin(StrEnum):
    USER_INITIATED = "user_initiated"
    BUSINESS_INITIATED = "business_initiated"
    FREE_ENTRY_POINT = "free_entry_point"


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    started_at: datetime
    first_message_id: str
    last_message_at: datetime
    initiated_by: str
    origin: Origin
    category: str | None
    messages_count: int = 1
    last_inbound_at: datetime | None = None
    last_outbound_at: datetime | None = None
    closed_at: datetime | None = None
    closed_reason: EndedReason | None = None

    @property
    def timeout_at(self) -> datetime:
        return self.last_message_at + DAY

    def ended_at(self, at: datetime) -> datetime | None:
        """When it ended, as seen at ``at`` (``None`` while it runs)."""
        end = self.closed_at if self.closed_at is not None else self.timeout_at
        return end if end <= at else None

    def ended_reason(self, at: datetime) -> EndedReason | None:
        if self.ended_at(at) is None:
            return None
        return self.closed_reason if self.closed_at is not None else EndedReason.TIMEOUT

    def status(self, at: datetime, inactive_after: timedelta) -> ConversationStatus:
        if self.ended_at(at) is not None:
            return ConversationStatus.ENDED
        if at - self.last_message_at >= inactive_after:
            return ConversationStatus.INACTIVE
        return ConversationStatus.ACTIVE

    def is_open(self, at: datetime) -> bool:
        return self.ended_at(at) is None


def conversation_id(line: str, first_message_id: str) -> str:
    """Stable for a given first message, so a replay of the same facts names it the same."""
    digest = hashlib.sha256(f"{line}\x1f{first_message_id}".encode()).hexdigest()
    return f"conv_{digest[:20]}"


@dataclass(frozen=True, slots=True)
class MessageSeen:
    """What the conversation rules need to know about one message."""

    line: str
    message_id: str
    at: datetime
    direction: Direction
    category: str | None = None  # business messages: the template's category, or service
    from_referral: bool = False


def start_conversation(message: MessageSeen) -> Conversation:
    inbound = message.direction is Direction.INBOUND
    if inbound:
        origin = Origin.FREE_ENTRY_POINT if message.from_referral else Origin.USER_INITIATED
    else:
        origin = Origin.BUSINESS_INITIATED
    return Conversation(
        id=conversation_id(message.line, message.message_id),
        started_at=message.at,
        first_message_id=message.message_id,
        last_message_at=message.at,
        initiated_by="user" if inbound else "business",
        origin=origin,
        category=None if inbound else message.category,
        last_inbound_at=message.at if inbound else None,
        last_outbound_at=None if inbound else message.at,
    )


def add_message(conversation: Conversation, message: MessageSeen) -> Conversation:
    """A message inside an open conversation (times only move forward in a fold)."""
    inbound = message.direction is Direction.INBOUND
    return replace(
        conversation,
        last_message_at=max(conversation.last_message_at, message.at),
        messages_count=conversation.messages_count + 1,
        category=conversation.category if inbound or conversation.category else message.category,
        last_inbound_at=message.at if inbound else conversation.last_inbound_at,
        last_outbound_at=conversation.last_outbound_at if inbound else message.at,
    )


def close_conversation(
    conversation: Conversation, at: datetime, reason: EndedReason
) -> Conversation:
    if not conversation.is_open(at):
        return conversation
    return replace(conversation, closed_at=at, closed_reason=reason)


def category_or_service(conversation: Conversation) -> str:
    """A conversation's category: its first business message's, or ``service``."""
    return conversation.category or "service"
