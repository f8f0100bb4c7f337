"""The webhook dispatcher: one ``tick`` fans out new events and attempts due deliveries.

The worker loop (``wawindow worker``, and inside ``serve``) calls ``tick(now)``
again and again; it answers how many events and deliveries it handled, and 0
when there was nothing to do. Each tick:

1. fans new outbox events out to the endpoints subscribed to them
   (``webhook_fanout``), in one transaction;
2. claims the deliveries ready at ``now`` (``domain.delivery_order``: due, and
   the earliest still to be done for their endpoint and contact) with a lease,
   in one short transaction, so that several workers share the work;
3. sends them, in parallel, with no transaction open;
4. records every attempt and what the delivery becomes: succeeded; pending again
   after a backoff (``domain.delivery_retries``); or failed once retried for 24
   hours. An endpoint failing for 3 days is disabled.

At least once: if a worker dies after sending and before recording, its lease
runs out and another worker sends the delivery again with the same
``webhook-id``, which is how receivers recognise a repeat.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Self

from wawindow.domain.delivery_order import DeliveryStatus
from wawindow.domain.delivery_retries import next_attempt_at, should_disable
from wawindow.domain.times import iso_z
from wawindow.domain.webhook_message import event_body
from wawindow.service.webhook_fanout import fan_out
from wawindow.service.webhook_ports import (
    Attempt,
    AttemptOutcome,
    ClaimedDelivery,
    DeliveryQueue,
    OutboxEvent,
    OutgoingWebhook,
    SendResult,
    WebhookSender,
)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    fan_out_batch: int = 500  # events fanned out per tick
    claim_batch: int = 100  # deliveries attempted per tick
    parallel: int = 16  # requests in flight at once
    # Longer than the sender's timeout, so a live worker's claim never lapses mid-request.
    lease: timedelta = timedelta(seconds=60)


class DeliveryJob:
    """Takes outbox events to tenants' endpoints. Safe to run in several workers at once."""

    name: Final = "webhook-delivery"

    def __init__(
        self,
        open_queue: Callable[[], DeliveryQueue],
        sender: WebhookSender,
        settings: DeliverySettings | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._open_queue = open_queue
        self._sender = sender
        self._settings = settings or DeliverySettings()
        self._draw = draw

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the sender's connections (call once the worker loop stops)."""
        self._sender.close()

    def tick(self, now: datetime) -> int:
        """Fan out, then attempt what is due at ``now``; how many events and deliveries."""
        fanned = self._fan_out(now)
        claimed = self._claim(now)
        if claimed:
            results = self._send_all(claimed, now)
            self._record(claimed, results, now)
        return fanned + len(claimed)

    def _fan_out(self, now: datetime) -> int:
        with self._open_queue() as queue:
            count = fan_out(queue, now, self._settings.fan_out_batch)
            queue.commit()
        return count

    def _claim(self, now: datetime) -> list[ClaimedDelivery]:
        with self._open_queue() as queue:
            lease_until = now + self._settings.lease
            claimed = queue.claim(now, self._settings.claim_batch, lease_until)
            queue.commit()
        return claimed

    def _send_all(self, claimed: Sequence[ClaimedDelivery], now: datetime) -> list[SendResult]:
        webhooks = [outgoing(delivery, now) for delivery in claimed]
        if len(webhooks) == 1:
            return [self._sender.send(webhooks[0])]
        with ThreadPoolExecutor(min(self._settings.parallel, len(webhooks))) as pool:
            return list(pool.map(self._sender.send, webhooks))

    def _record(
        self, claimed: Sequence[ClaimedDelivery], results: Sequence[SendResult], now: datetime
    ) -> None:
        with self._open_queue() as queue:
            record_results(queue, claimed, results, now, self._draw)
            queue.commit()


def outgoing(delivery: ClaimedDelivery, now: datetime) -> OutgoingWebhook:
    """The request for a claimed delivery, signed with every secret valid at ``now``."""
    body = delivery_body(delivery.event)
    secrets = delivery.secrets.valid_at(now)
    return OutgoingWebhook(delivery.url, delivery.id, body, secrets)


def delivery_body(event: OutboxEvent) -> dict[str, Any]:
    """The JSON body sent for an event: the same for every endpoint and attempt."""
    return event_body(
        event.type, event.event_key, event.tenant_id, event.occurred_at, event_data(event)
    )


def event_data(event: OutboxEvent) -> dict[str, Any]:
    """The event's data, with the line and contact of its thread when it has one."""
    data = dict(event.data)
    if event.line is not None:
        data.setdefault("phone_number_id", event.line)
    if event.contact_id is not None:
        data.setdefault("contact_id", event.contact_id)
    return data


def record_results(
    queue: DeliveryQueue,
    claimed: Sequence[ClaimedDelivery],
    results: Sequence[SendResult],
    now: datetime,
    draw: Callable[[], float],
) -> None:
    """Note how each endpoint fared, log every attempt and move each delivery on.

    Endpoints first, in id order, then deliveries: the order the API locks them in
    too (an endpoint, then its deliveries), so concurrent writers wait, never
    deadlock. An endpoint with any success in the batch is working; one whose
    attempts all failed is failing, and disabled once it has failed for
    ``DISABLE_AFTER`` (after the deliveries are recorded, so that those left
    pending are given up with the others).
    """
    pairs = list(zip(claimed, results, strict=True))
    worked = {delivery.endpoint_id for delivery, result in pairs if result.succeeded}
    failed = {delivery.endpoint_id for delivery, result in pairs if not result.succeeded}
    to_disable: dict[str, str] = {}
    for endpoint_id in sorted(worked | failed):
        if endpoint_id in worked:
            queue.endpoint_succeeded(endpoint_id)
            continue
        failing_since = queue.endpoint_failed(endpoint_id, now)
        if failing_since is not None and should_disable(failing_since, now):
            to_disable[endpoint_id] = f"every attempt failed since {iso_z(failing_since)}"
    queue.finish([(delivery, outcome(delivery, result, now, draw())) for delivery, result in pairs])
    for endpoint_id, reason in to_disable.items():
        queue.disable_endpoint(endpoint_id, reason, now)


def outcome(
    delivery: ClaimedDelivery, result: SendResult, now: datetime, draw: float
) -> AttemptOutcome:
    """What an attempt at ``now`` makes of the delivery: done, retried later, or given up."""
    attempt = Attempt(now, result.status_code, result.latency_ms, result.response_excerpt, None)
    if result.succeeded:
        return AttemptOutcome(DeliveryStatus.SUCCEEDED, None, attempt)
    attempt = replace(attempt, error=result.error or f"HTTP {result.status_code}")
    started = delivery.round_started_at or now
    retry_at = next_attempt_at(started, now, delivery.round_attempts + 1, draw)
    status = DeliveryStatus.PENDING if retry_at else DeliveryStatus.FAILED
    return AttemptOutcome(status, retry_at, attempt)
