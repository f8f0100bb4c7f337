"""One message as its own facts describe it: direction, type, status timeline, errors.

A ``MessageRecord`` is a commutative, idempotent merge of the facts about one
message id (the message itself and its statuses), so it is the same whatever
order they arrive in. Status never downgrades: the shown status is the highest
rank seen, ``read`` implies ``delivered``, and a ``failed`` after delivery is
recorded without erasing the delivery (DESIGN 1.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Final

from wawindow.domain.categories import normalise_category
from wawindow.domain.facts import (
    Direction,
    InboundMessage,
    OutboundMessage,
    ProviderConversation,
    ProviderError,
    ProviderPricing,
    StatusUpdate,
    TemplateRef,
)

# Outbound progression. ``failed`` ranks above ``accepted`` only: a failure after
# delivery keeps the delivery (it is shown in ``failed_at`` and ``errors``).
STATUS_RANK: Final = MappingProxyType(
    {
        "queued": 0,
        "accepted": 1,
        "failed": 2,
        "sent": 3,
        "delivered": 4,
        "read": 5,
        "played": 6,
    }
)
DELIVERED_RANK: Final = STATUS_RANK["delivered"]
RE_ENGAGEMENT_ERRORS: Final = frozenset({131047, 470})


def status_rank(status: str) -> int:
    """Unknown statuses (Meta adds some, e.g. ``deleted``) rank lowest and never win."""
    return STATUS_RANK.get(status, -1)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message_id: str
    direction: Direction
    line: str
    type: str | None = None
    template: TemplateRef | None = None
    category: str | None = None
    sent_at: datetime | None = None  # the outbound fact's time (when the business sent it)
    received_at: datetime | None = None  # inbound: the user's message time
    status_times: MappingProxyType[str, datetime] = field(
        default_factory=lambda: MappingProxyType({})
    )
    errors: tuple[ProviderError, ...] = ()
    pricing: ProviderPricing | None = None
    pricing_from: tuple[int, str] = (-2, "")  # (rank, status) of the status it came from
    conversation: ProviderConversation | None = None
    known_from_send: bool = False

    @property
    def is_template(self) -> bool:
        return self.type == "template" or self.template is not None

    @property
    def at(self) -> datetime | None:
        """When the message happened: sent or received, else its first status."""
        if self.received_at is not None:
            return self.received_at
        if self.sent_at is not None:
            return self.sent_at
        return min(self.status_times.values()) if self.status_times else None

    @property
    def status(self) -> str:
        if self.direction is Direction.INBOUND:
            return "received"
        best = "accepted" if self.known_from_send else "queued"
        for name in self.status_times:
            if status_rank(name) > status_rank(best):
                best = name
        return best

    @property
    def delivered_at(self) -> datetime | None:
        """When it reached the phone: ``delivered``, or the earliest of read/played without it."""
        times = [t for s, t in self.status_times.items() if status_rank(s) >= DELIVERED_RANK]
        return min(times) if times else None

    @property
    def failed_with_re_engagement(self) -> bool:
        return "failed" in self.status_times and any(
            e.code in RE_ENGAGEMENT_ERRORS for e in self.errors
        )

    def status_time(self, status: str) -> datetime | None:
        if status == "delivered" and "delivered" not in self.status_times:
            return self.delivered_at
        return self.status_times.get(status)


def new_record(fact: InboundMessage | OutboundMessage | StatusUpdate) -> MessageRecord:
    direction = Direction.INBOUND if isinstance(fact, InboundMessage) else Direction.OUTBOUND
    return MessageRecord(message_id=fact.message_id, direction=direction, line=fact.line)


def merge_fact(
    record: MessageRecord | None, fact: InboundMessage | OutboundMessage | StatusUpdate
) -> MessageRecord:
    """Add one fact to a message's record; any order, any number of times, same result."""
    current = record if record is not None else new_record(fact)
    match fact:
        case InboundMessage():
            received = fact.at if current.received_at is None else min(current.received_at, fact.at)
            return replace(
                current, direction=Direction.INBOUND, type=fact.type, received_at=received
            )
        case OutboundMessage():
            return _merge_outbound(current, fact)
        case StatusUpdate():
            return _merge_status(current, fact)


def _merge_outbound(record: MessageRecord, fact: OutboundMessage) -> MessageRecord:
    sent_at = fact.at if record.sent_at is None else min(record.sent_at, fact.at)
    return replace(
        record,
        direction=Direction.OUTBOUND,
        type=fact.type,
        template=fact.template,
        category=normalise_category(fact.category) or record.category,
        sent_at=sent_at,
        known_from_send=True,
    )


def _merge_status(record: MessageRecord, fact: StatusUpdate) -> MessageRecord:
    times = dict(record.status_times)
    previous = times.get(fact.status)
    times[fact.status] = fact.at if previous is None else min(previous, fact.at)
    errors = record.errors
    for error in fact.errors:
        if error not in errors:
            errors = (*errors, error)
    rank = status_rank(fact.status)
    pricing, pricing_from = record.pricing, record.pricing_from
    # The highest-ranked status's pricing wins, so the result ignores arrival order.
    if fact.pricing is not None and (rank, fact.status) > pricing_from:
        pricing, pricing_from = fact.pricing, (rank, fact.status)
    conversation = record.conversation
    if fact.conversation is not None and (
        conversation is None or _conversation_newer(fact.conversation, conversation)
    ):
        conversation = fact.conversation
    return replace(
        record,
        status_times=MappingProxyType(dict(sorted(times.items()))),
        errors=tuple(sorted(errors, key=_error_key)),
        pricing=pricing,
        pricing_from=pricing_from,
        conversation=conversation,
    )


def _conversation_newer(candidate: ProviderConversation, current: ProviderConversation) -> bool:
    """Prefer the conversation object that carries an expiry, then the later expiry."""
    if candidate.expires_at is None:
        return False
    return current.expires_at is None or candidate.expires_at > current.expires_at


def _error_key(error: ProviderError) -> tuple[int, str, str, str]:
    return (error.code or 0, error.title or "", error.message or "", error.details or "")
