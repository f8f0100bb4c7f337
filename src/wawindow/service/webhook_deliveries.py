"""A tenant's webhook deliveries: list them with their attempts, look at one, redeliver.

A redelivery starts a new round of attempts (retried for 24 hours again) under
the same delivery id, so the receiver sees the same ``webhook-id`` as before and
can tell a repeat. It keeps the event's place in its contact's order: later
events of that contact still to be delivered wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wawindow.domain.delivery_order import DeliveryStatus
from wawindow.service.webhook_endpoints import (
    DeliveryNotFound,
    WebhookConflict,
    get_endpoint,
)
from wawindow.service.webhook_ports import DeliveryFilter, DeliveryRecord, WebhookStore


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: list[DeliveryRecord]
    total: int
    page: int
    page_size: int


def list_deliveries(
    store: WebhookStore, tenant_id: str, where: DeliveryFilter, page: int, page_size: int
) -> DeliveryPage:
    """Newest event first; an unknown (or another tenant's) endpoint_id is a 404."""
    if where.endpoint_id is not None:
        get_endpoint(store, tenant_id, where.endpoint_id, "query.endpoint_id")
    items, total = store.deliveries(tenant_id, where, (page - 1) * page_size, page_size)
    return DeliveryPage(items, total, page, page_size)


def get_delivery(store: WebhookStore, tenant_id: str, delivery_id: str) -> DeliveryRecord:
    found = store.delivery(tenant_id, delivery_id)
    if found is None:
        raise DeliveryNotFound(f"no webhook delivery {delivery_id!r}", "path.delivery_id")
    return found


def redeliver(
    store: WebhookStore, tenant_id: str, delivery_id: str, at: datetime
) -> DeliveryRecord:
    """Attempt again now, whatever the delivery's state, unless it is in flight."""
    delivery = get_delivery(store, tenant_id, delivery_id)
    if delivery.status is DeliveryStatus.DELIVERING:
        raise WebhookConflict("the delivery is being attempted right now", "path.delivery_id")
    if not get_endpoint(store, tenant_id, delivery.endpoint_id).enabled:
        raise WebhookConflict(
            "its endpoint is disabled: enable it first (POST …/enable)", "path.delivery_id"
        )
    store.redeliver(delivery.id, at)
    found = get_delivery(store, tenant_id, delivery.id)
    store.commit()
    return found
