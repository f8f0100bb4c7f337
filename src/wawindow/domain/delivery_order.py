"""Order of webhook deliveries: per endpoint, each contact's events one at a time.

Every delivery carries an ordering key (the contact the event is about, else the
subject of an account-level event such as a template) and a sequence (the order
the events were recorded in). Of the deliveries of one (endpoint, key) that are
still to be done, only the earliest may be attempted: a later event for a
contact waits while an earlier one is being retried, and other contacts go on.
A delivery stops holding the others up when it succeeds or is given up.

The SQL queue claims with the same rule (``adapters/db/delivery_queue.py``); the
contract tests check the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt, or for an earlier event of its key
    DELIVERING = "delivering"  # claimed by a worker until its lease ends
    SUCCEEDED = "succeeded"  # the endpoint answered 2xx
    FAILED = "failed"  # given up: retries exhausted, or the endpoint is disabled


ACTIVE: Final = frozenset({DeliveryStatus.PENDING, DeliveryStatus.DELIVERING})


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    id: str
    endpoint_id: str
    ordering_key: str
    sequence: int  # the event's place in the outbox: the order it was recorded in
    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None  # while DELIVERING: when the claim lapses


def ordering_key(contact_id: str | None, subject: str) -> str:
    """What a delivery waits behind: the contact's earlier events, else its subject's."""
    return f"contact:{contact_id}" if contact_id else f"subject:{subject}"


def is_due(delivery: QueuedDelivery, now: datetime) -> bool:
    """Pending and its time has come, or claimed by a worker whose lease ran out."""
    if delivery.status is DeliveryStatus.PENDING:
        return delivery.next_attempt_at is not None and delivery.next_attempt_at <= now
    if delivery.status is DeliveryStatus.DELIVERING:
        return delivery.lease_until is None or delivery.lease_until <= now
    return False


def ready(deliveries: Iterable[QueuedDelivery], now: datetime) -> list[QueuedDelivery]:
    """The deliveries a worker may attempt at ``now``, in the order they were recorded."""
    heads: dict[tuple[str, str], QueuedDelivery] = {}
    for delivery in deliveries:
        if delivery.status not in ACTIVE:
            continue
        key = (delivery.endpoint_id, delivery.ordering_key)
        head = heads.get(key)
        if head is None or delivery.sequence < head.sequence:
            heads[key] = delivery
    due = [head for head in heads.values() if is_due(head, now)]
    return sorted(due, key=lambda delivery: (delivery.sequence, delivery.id))
