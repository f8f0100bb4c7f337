"""``/v1/webhook-deliveries``: each event sent to each endpoint, with every attempt.

A delivery's ``id`` is the ``webhook-id`` header its endpoint receives, the same on
every attempt and redelivery. ``redeliver`` starts a new round of attempts now
(retried for 24 hours again). Deliveries of another tenant are a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from wawindow.domain.delivery_order import DeliveryStatus
from wawindow.domain.event_catalogue import EVENT_TYPES, PING, internal_name, tenant_name
from wawindow.domain.webhook_message import event_id
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import Problem, problem_responses
from wawindow.entrypoints.api.webhook_errors import run_webhooks
from wawindow.service.delivery_job import delivery_body
from wawindow.service.webhook_deliveries import (
    DeliveryPage,
    get_delivery,
    list_deliveries,
    redeliver,
)
from wawindow.service.webhook_ports import DeliveryFilter, DeliveryRecord

router = APIRouter(prefix="/v1", tags=["webhooks"])

DeliveryId = Annotated[str, Path(max_length=64, examples=["msg_2b1f…"])]


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None = Field(description="The endpoint's answer; null if none came.")
    latency_ms: int | None
    response_excerpt: str | None = Field(description="The start of the answer's body.")
    error: str | None = Field(description="Why the attempt failed; null when it succeeded.")


class EventOut(BaseModel):
    id: str = Field(description="The event's id, the `id` of the body.")
    type: str = Field(examples=["whatsapp.conversation.created"])
    created_at: datetime


class DeliveryOut(BaseModel):
    id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    endpoint_id: str
    event: EventOut
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    attempts: list[AttemptOut] = Field(description="Every attempt, oldest first.")
    payload: dict[str, Any] = Field(description="The body sent, as signed.")


class DeliveryPageOut(BaseModel):
    items: list[DeliveryOut]
    total: int
    page: int
    page_size: int


def delivery_out(record: DeliveryRecord) -> DeliveryOut:
    event = record.event
    return DeliveryOut(
        id=record.id,
        endpoint_id=record.endpoint_id,
        event=EventOut(
            id=event_id(event.tenant_id, event.event_key),
            type=tenant_name(event.type),
            created_at=event.occurred_at,
        ),
        status=record.status,
        attempt_count=record.attempts,
        next_attempt_at=record.next_attempt_at,
        last_attempt_at=record.last_attempt_at,
        last_status_code=record.last_status_code,
        last_error=record.last_error,
        created_at=record.created_at,
        updated_at=record.updated_at,
        attempts=[
            AttemptOut(
                at=attempt.at,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                response_excerpt=attempt.response_excerpt,
                error=attempt.error,
            )
            for attempt in record.attempt_log
        ],
        payload=delivery_body(event),
    )


@router.get(
    "/webhook-deliveries",
    response_model=DeliveryPageOut,
    summary="List deliveries, newest event first, with their attempts",
    responses=problem_responses(401, 404, 422),
)
async def deliveries(
    svc: ServicesDep,
    tenant_id: TenantDep,
    endpoint_id: Annotated[str | None, Query(max_length=64)] = None,
    status: DeliveryStatus | None = None,
    event_type: Annotated[
        str | None,
        Query(max_length=100, description="A full name, e.g. `whatsapp.window.closed`."),
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPageOut:
    where = DeliveryFilter(endpoint_id, status, _event_type(event_type))
    found: DeliveryPage = await run_webhooks(
        svc, lambda store: list_deliveries(store, tenant_id, where, page, page_size)
    )
    return DeliveryPageOut(
        items=[delivery_out(record) for record in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.get(
    "/webhook-deliveries/{delivery_id}",
    response_model=DeliveryOut,
    summary="One delivery, with its attempts and the body sent",
    responses=problem_responses(401, 404, 422),
)
async def delivery(svc: ServicesDep, tenant_id: TenantDep, delivery_id: DeliveryId) -> DeliveryOut:
    found = await run_webhooks(svc, lambda store: get_delivery(store, tenant_id, delivery_id))
    return delivery_out(found)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send again now, with the same webhook-id (a new 24-hour round of retries)",
    responses=problem_responses(401, 404, 409, 422),
)
async def redeliver_one(
    svc: ServicesDep, tenant_id: TenantDep, delivery_id: DeliveryId
) -> DeliveryOut:
    found = await run_webhooks(
        svc, lambda store: redeliver(store, tenant_id, delivery_id, svc.clock())
    )
    return delivery_out(found)


def _event_type(value: str | None) -> str | None:
    """``whatsapp.window.closed`` → ``window.closed``; unknown names are a 422."""
    if value is None:
        return None
    name = internal_name(value)
    if name is None or (name not in EVENT_TYPES and name != PING):
        raise Problem(
            422,
            "validation_error",
            "Invalid request",
            f"{value!r} is not an event type (e.g. whatsapp.conversation.created)",
            field="query.event_type",
        )
    return name
