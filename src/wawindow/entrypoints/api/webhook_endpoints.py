"""``/v1/webhook-endpoints``: where a tenant wants its events sent (DESIGN 2.4).

An endpoint is a URL and the event types it subscribes to (``["*"]``,
``["whatsapp.conversation.*", "whatsapp.window.closed"]``…, checked against the
event catalogue). Its signing secret (``whsec_…``) is in the answer to the
creation and to ``rotate-secret`` only. ``test`` sends it a ``whatsapp.ping``
event, delivered like any other. An endpoint of another tenant is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import problem_responses
from wawindow.entrypoints.api.query_params import query_instant
from wawindow.entrypoints.api.webhook_deliveries import DeliveryOut, delivery_out
from wawindow.entrypoints.api.webhook_errors import run_webhooks
from wawindow.service.webhook_endpoints import (
    EndpointEdit,
    EndpointSpec,
    EndpointWithSecret,
    create_endpoint,
    delete_endpoint,
    enable_endpoint,
    get_endpoint,
    rotate_secret,
    send_test,
    update_endpoint,
)
from wawindow.service.webhook_ports import Endpoint

router = APIRouter(prefix="/v1", tags=["webhooks"])

EXAMPLE_EVENTS: Final = ["whatsapp.conversation.*", "whatsapp.window.closed"]
EndpointId = Annotated[str, Path(max_length=64, examples=["ep_5f0c…"])]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="Where events are POSTed: an absolute https:// (or http://) URL.",
        examples=["https://example.com/hooks/whatsapp"],
    ),
]
Events = Annotated[
    list[Annotated[str, Field(max_length=100)]],
    Field(
        min_length=1,
        max_length=100,
        description=(
            "Event types to receive: `*` for all, `whatsapp.<family>.*` for a family, "
            "or full names such as `whatsapp.window.closed` (see docs/webhooks.md)."
        ),
        examples=[EXAMPLE_EVENTS],
    ),
]
Description = Annotated[str, Field(max_length=500, description="For your own reference.")]


class EndpointIn(BaseModel):
    url: Url
    events: Events
    description: Description = ""


class EndpointPatch(BaseModel):
    """The fields to change; those left out (or null) stay as they are."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="`false` pauses the endpoint; its pending deliveries fail."
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None = Field(description="Why: by its owner, or failing for days.")
    failing_since: datetime | None = Field(
        description="The first failed attempt since the last success; null when working."
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(
        description="The Standard Webhooks signing secret. Shown now only: store it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class EndpointList(BaseModel):
    items: list[EndpointOut]


class EnableIn(BaseModel):
    redeliver_since: datetime | None = Field(
        default=None,
        description="Also redeliver the endpoint's failed deliveries created at or after this.",
    )


class EnableOut(BaseModel):
    endpoint: EndpointOut
    redelivered: int = Field(description="How many failed deliveries are being sent again.")


def endpoint_out(endpoint: Endpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def with_secret(made: EndpointWithSecret) -> EndpointWithSecretOut:
    shown = endpoint_out(made.endpoint).model_dump()
    return EndpointWithSecretOut(**shown, secret=made.secret)


@router.get(
    "/webhook-endpoints",
    response_model=EndpointList,
    summary="List the tenant's webhook endpoints, oldest first",
    responses=problem_responses(401, 422),
)
async def endpoints(svc: ServicesDep, tenant_id: TenantDep) -> EndpointList:
    found = await run_webhooks(svc, lambda store: store.endpoints(tenant_id))
    return EndpointList(items=[endpoint_out(endpoint) for endpoint in found])


@router.post(
    "/webhook-endpoints",
    response_model=EndpointWithSecretOut,
    status_code=201,
    summary="Subscribe a URL to events; the answer holds its signing secret, shown once",
    responses=problem_responses(401, 422),
)
async def create(
    svc: ServicesDep, tenant_id: TenantDep, request: EndpointIn
) -> EndpointWithSecretOut:
    spec = EndpointSpec(request.url, request.events, request.description)
    made = await run_webhooks(
        svc, lambda store: create_endpoint(store, tenant_id, spec, svc.clock())
    )
    return with_secret(made)


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="One webhook endpoint",
    responses=problem_responses(401, 404, 422),
)
async def endpoint(svc: ServicesDep, tenant_id: TenantDep, endpoint_id: EndpointId) -> EndpointOut:
    found = await run_webhooks(svc, lambda store: get_endpoint(store, tenant_id, endpoint_id))
    return endpoint_out(found)


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="Change an endpoint's URL, events or description, or pause it",
    responses=problem_responses(401, 404, 422),
)
async def update(
    svc: ServicesDep, tenant_id: TenantDep, endpoint_id: EndpointId, request: EndpointPatch
) -> EndpointOut:
    edit = EndpointEdit(request.url, request.events, request.description, request.enabled)
    changed = await run_webhooks(
        svc, lambda store: update_endpoint(store, tenant_id, endpoint_id, edit, svc.clock())
    )
    return endpoint_out(changed)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    summary="Unsubscribe: the endpoint, its deliveries and their attempts are deleted",
    responses=problem_responses(401, 404, 422),
)
async def delete(svc: ServicesDep, tenant_id: TenantDep, endpoint_id: EndpointId) -> Response:
    await run_webhooks(svc, lambda store: delete_endpoint(store, tenant_id, endpoint_id))
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecretOut,
    summary="A new signing secret, shown once; the old one also signs for 24 hours",
    responses=problem_responses(401, 404, 422),
)
async def rotate(
    svc: ServicesDep, tenant_id: TenantDep, endpoint_id: EndpointId
) -> EndpointWithSecretOut:
    made = await run_webhooks(
        svc, lambda store: rotate_secret(store, tenant_id, endpoint_id, svc.clock())
    )
    return with_secret(made)


@router.post(
    "/webhook-endpoints/{endpoint_id}/enable",
    response_model=EnableOut,
    summary="Enable an endpoint (e.g. disabled after failing for 3 days), and redeliver",
    responses=problem_responses(401, 404, 422),
)
async def enable(
    svc: ServicesDep,
    tenant_id: TenantDep,
    endpoint_id: EndpointId,
    request: EnableIn | None = None,
) -> EnableOut:
    since = query_instant(request.redeliver_since if request else None, "body.redeliver_since")
    enabled, requeued = await run_webhooks(
        svc, lambda store: enable_endpoint(store, tenant_id, endpoint_id, since, svc.clock())
    )
    return EnableOut(endpoint=endpoint_out(enabled), redelivered=requeued)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    response_model=DeliveryOut,
    status_code=202,
    summary="Send a whatsapp.ping event to this endpoint, delivered like any other",
    responses=problem_responses(401, 404, 409, 422),
)
async def test(svc: ServicesDep, tenant_id: TenantDep, endpoint_id: EndpointId) -> DeliveryOut:
    sent = await run_webhooks(
        svc, lambda store: send_test(store, tenant_id, endpoint_id, svc.clock())
    )
    return delivery_out(sent)
