"""Fan-out: each new outbox event becomes one delivery per endpoint subscribed to it.

Which events are new is not decided by a cursor over outbox ids. Ids are handed
out when a row is inserted, not when its transaction commits, so on PostgreSQL a
transaction holding id 41 may commit after another one's id 42 has been read: a
cursor already past 42 would skip 41 for ever. Instead, a trigger on ``outbox``
queues each event's id in the transaction that writes the event (migration 0005),
so an event is queued exactly when it becomes visible, and fan-out deletes the
queue rows it has handled in the transaction that inserts their deliveries. An
event is therefore fanned out once it commits, whatever the order of commits, and
a crash in the middle leaves the queue as it was.

It stays idempotent if it runs again: a delivery is unique per (endpoint,
event). One fan-out runs at a time (``lock_fan_out``), taking the queue in id
order; since the events of one thread are written under the thread's lock, they
commit in id order, so a contact's deliveries are created in the order its
events were recorded.

An endpoint gets the events fanned out while it exists. A disabled endpoint's
deliveries are recorded as failed with no attempt, so its owner can see what it
missed and redeliver after enabling it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Final

from wawindow.domain.delivery_order import DeliveryStatus, ordering_key
from wawindow.domain.event_catalogue import PING
from wawindow.domain.event_patterns import matches
from wawindow.service.webhook_ports import DeliveryQueue, Endpoint, NewDelivery, OutboxEvent

ENDPOINT_DISABLED: Final = "endpoint disabled: enable it and redeliver"


def new_delivery_id() -> str:
    """The Standard Webhooks ``webhook-id`` of a delivery (``msg_…``, as in the spec)."""
    return f"msg_{uuid.uuid4().hex}"


def fan_out(queue: DeliveryQueue, now: datetime, limit: int) -> int:
    """Fan out up to ``limit`` queued events; how many were taken off the queue."""
    if not queue.lock_fan_out():
        return 0
    events = queue.queued_events(limit)
    if not events:
        return 0
    endpoints = queue.endpoints_of({event.tenant_id for event in events})
    queue.add_deliveries(
        [
            delivery_for(event, endpoint, now)
            for event in events
            for endpoint in targets(event, endpoints.get(event.tenant_id, ()))
        ]
    )
    queue.dequeue([event.outbox_id for event in events])
    return len(events)


def targets(event: OutboxEvent, endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    """The endpoints an event goes to: the tested one for a ping, else the subscribed ones."""
    if event.type == PING:
        return [e for e in endpoints if e.id == event.data.get("endpoint_id")]
    return [e for e in endpoints if matches(e.events, event.type)]


def delivery_for(event: OutboxEvent, endpoint: Endpoint, now: datetime) -> NewDelivery:
    """A pending delivery, due now (failed at once if the endpoint is disabled)."""
    base = NewDelivery(
        id=new_delivery_id(),
        tenant_id=event.tenant_id,
        endpoint_id=endpoint.id,
        outbox_id=event.outbox_id,
        event_type=event.type,
        ordering_key=ordering_key(event.contact_id, event.subject),
        status=DeliveryStatus.PENDING,
        created_at=now,
        next_attempt_at=now,
    )
    if endpoint.enabled:
        return base
    return replace(
        base, status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=ENDPOINT_DISABLED
    )
