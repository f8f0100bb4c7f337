"""What webhooks out need from storage and from the network, as Protocols.

Like the other stores, each store object is one transaction: the use case calls
``commit()`` at the end, and leaving without it rolls everything back. The SQL
implementations are in ``adapters/db/webhook_store.py`` and
``adapters/db/delivery_queue.py``; the HTTP sender in ``adapters/webhook_sender.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from wawindow.domain.delivery_order import DeliveryStatus

# -- endpoints ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...]
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    failing_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SigningSecrets:
    """The secret that signs, and the one it replaced while that one still signs too."""

    current: str
    previous: str | None = None
    previous_until: datetime | None = None

    def valid_at(self, at: datetime) -> tuple[str, ...]:
        if self.previous and self.previous_until and at < self.previous_until:
            return (self.current, self.previous)
        return (self.current,)


# -- events and deliveries --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event as the outbox holds it, with the contact of its thread (if any)."""

    outbox_id: int
    tenant_id: str
    type: str  # without the ``whatsapp.`` prefix
    event_key: str
    occurred_at: datetime
    data: Mapping[str, Any]
    line: str | None = None
    contact_id: str | None = None

    @property
    def subject(self) -> str:
        return str(self.data.get("subject", self.event_key))


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: str
    tenant_id: str
    endpoint_id: str
    outbox_id: int
    event_type: str
    ordering_key: str
    status: DeliveryStatus
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as the API shows it, with its event and every attempt so far."""

    id: str
    tenant_id: str
    endpoint_id: str
    event: OutboxEvent
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    attempt_log: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    endpoint_id: str | None = None
    status: DeliveryStatus | None = None
    event_type: str | None = None  # without the prefix


class Transaction(Protocol):
    """One transaction: ``commit()`` once at the end; leaving without it stores nothing."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class WebhookStore(Transaction, Protocol):
    """The tenant-facing side: endpoints, and deliveries to look at or redeliver."""

    def add_endpoint(self, endpoint: Endpoint, secret: str) -> None: ...

    def endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        """The endpoint, locked for update; ``None`` if it is not this tenant's."""

    def endpoints(self, tenant_id: str) -> list[Endpoint]:
        """Oldest first."""

    def save_endpoint(self, endpoint: Endpoint) -> None:
        """Write url, events, description and the enabled state as given."""

    def secrets(self, endpoint_id: str) -> SigningSecrets: ...

    def set_secrets(self, endpoint_id: str, secrets: SigningSecrets, at: datetime) -> None: ...

    def delete_endpoint(self, endpoint_id: str) -> None:
        """The endpoint, its deliveries and their attempts."""

    def fail_pending(self, endpoint_id: str, reason: str, at: datetime) -> int:
        """Give up the endpoint's pending deliveries (it was disabled)."""

    def requeue_failed(self, endpoint_id: str, since: datetime, at: datetime) -> int:
        """Start a new round for the endpoint's failed deliveries created at or after ``since``."""

    def add_event(self, event: OutboxEvent) -> int:
        """Write an event to the outbox (the test ping); its outbox id."""

    def add_delivery(self, delivery: NewDelivery) -> None: ...

    def deliveries(
        self, tenant_id: str, where: DeliveryFilter, offset: int, limit: int
    ) -> tuple[list[DeliveryRecord], int]:
        """A page, newest event first, and how many there are in all."""

    def delivery(self, tenant_id: str, delivery_id: str) -> DeliveryRecord | None: ...

    def redeliver(self, delivery_id: str, at: datetime) -> None:
        """A new round of attempts, starting now, under the same id."""


# -- the delivery job ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker holds until ``lease_until`` (``lease_token`` proves it)."""

    id: str
    tenant_id: str
    endpoint_id: str
    url: str
    secrets: SigningSecrets
    event: OutboxEvent
    lease_token: str
    round_attempts: int  # failed attempts of this round so far
    round_started_at: datetime | None
    ordering_key: str = ""


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How an attempt ended, and what the delivery becomes."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    attempt: Attempt


class DeliveryQueue(Transaction, Protocol):
    """The worker side: fan events out to endpoints, claim deliveries, record attempts."""

    def lock_fan_out(self) -> bool:
        """Become the only fan-out until commit; ``False`` if another one is running."""

    def queued_events(self, limit: int) -> list[OutboxEvent]:
        """Events not yet fanned out, in the order they were recorded."""

    def endpoints_of(self, tenant_ids: Iterable[str]) -> dict[str, list[Endpoint]]: ...

    def add_deliveries(self, deliveries: Sequence[NewDelivery]) -> None:
        """Insert those whose (endpoint, event) delivery does not exist yet."""

    def dequeue(self, outbox_ids: Sequence[int]) -> None: ...

    def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[ClaimedDelivery]:
        """Deliveries ready at ``now`` (``domain.delivery_order.ready``), now held by us."""

    def finish(self, results: Sequence[tuple[ClaimedDelivery, AttemptOutcome]]) -> int:
        """Log each attempt, and update each delivery whose claim is still ours (how many)."""

    def endpoint_succeeded(self, endpoint_id: str) -> None: ...

    def endpoint_failed(self, endpoint_id: str, at: datetime) -> datetime | None:
        """Note a failure; since when the endpoint has been failing (``None``: it is gone)."""

    def disable_endpoint(self, endpoint_id: str, reason: str, at: datetime) -> None:
        """Disable it and give up its pending deliveries."""


# -- the network ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingWebhook:
    url: str
    webhook_id: str  # the same on every attempt of a delivery
    body: Mapping[str, Any]
    secrets: tuple[str, ...]  # each one signs; receivers accept any valid signature


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None  # None: no answer (refused, timed out, …)
    latency_ms: int
    response_excerpt: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender(Protocol):
    def send(self, webhook: OutgoingWebhook) -> SendResult:
        """One attempt; never raises for a network error (it is in the result)."""

    def close(self) -> None:
        """Let go of connections; the sender is not used again."""
