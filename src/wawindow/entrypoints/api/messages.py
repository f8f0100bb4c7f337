"""``GET /v1/messages`` and ``GET /v1/messages/{id}``: status timeline, errors, billing, price.

Every status time is shown (``read`` implies ``delivered``: a message read without
a ``delivered`` report shows the read time as its delivery). Billing is the one
WhatsApp charges by: the provider's report when it came, else wawindow's
estimate, with the PMP-2 monthly allowance of free service messages applied at
the time of the request. ``price`` and ``currency`` come from the tenant's rate
card (``wawindow ratecard load``) for the contact's market: ``"0"`` when the
message is free, ``null`` when there is no card or no rate for it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.message_store import SqlMessageStore
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.bootstrap import Services
from wawindow.domain.drift import Drift, DriftKind
from wawindow.domain.facts import Direction
from wawindow.domain.pricing import Source
from wawindow.domain.rate_card import RateCard
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import Problem, problem_responses
from wawindow.entrypoints.api.query_params import check_period, query_instant
from wawindow.service.messages_query import (
    MessageFilter,
    MessagePage,
    PricedMessage,
    find_message,
    list_messages,
    status_timeline,
)

router = APIRouter(prefix="/v1", tags=["messages"])

ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""Ids have no control characters (and PostgreSQL refuses NUL in text)."""

MessageStatus = Literal[
    "received", "queued", "accepted", "sent", "delivered", "read", "played", "failed"
]


class StatusTimesOut(BaseModel):
    sent_at: datetime | None
    delivered_at: datetime | None = Field(description="Also set by read/played alone.")
    read_at: datetime | None
    played_at: datetime | None
    failed_at: datetime | None


class StatusEventOut(BaseModel):
    status: str
    at: datetime


class ErrorOut(BaseModel):
    code: int | None
    title: str | None
    message: str | None
    details: str | None


class DriftOut(BaseModel):
    message_id: str
    kind: DriftKind
    at: datetime
    computed: str = Field(description="What wawindow computed.")
    provider: str = Field(description="What the provider reported.")
    detail: str


class BillingOut(BaseModel):
    model: str = Field(description="CBP or PMP.")
    category: str
    type: str = Field(description="regular, free_customer_service or free_entry_point.")
    billable: bool
    source: Source
    era: str | None
    market: str | None = Field(description="The contact's country (ISO alpha-2), if known.")
    price: str | None = Field(description="Decimal; 0 when free, null without a rate.")
    currency: str | None
    drift: list[DriftOut] = Field(description="Billing disagreements with the provider.")


class TemplateOut(BaseModel):
    name: str
    language: str | None


class MessageOut(BaseModel):
    id: str
    direction: Direction
    phone_number_id: str
    contact_id: str
    contact_phone: str | None
    contact_bsuid: str | None
    conversation_id: str | None
    type: str | None
    template: TemplateOut | None
    category: str | None = Field(description="The template's category (outbound).")
    status: str
    at: datetime | None = Field(description="When it was received or sent.")
    status_times: StatusTimesOut
    timeline: list[StatusEventOut] = Field(description="Every status report, in time order.")
    errors: list[ErrorOut]
    billing: BillingOut | None = Field(description="Null until delivered (or never billed).")
    drift: list[DriftOut] = Field(description="Every drift record of the message (any kind).")


class MessagePageOut(BaseModel):
    items: list[MessageOut]
    total: int
    page: int
    page_size: int


def decimal_text(value: Decimal) -> str:
    """``0.0625``, ``10``, ``0``: a Decimal as plain text, without exponent or trailing zeros."""
    return format(value.normalize(), "f")


def drift_out(drift: Drift) -> DriftOut:
    return DriftOut(
        message_id=drift.message_id,
        kind=drift.kind,
        at=drift.at,
        computed=drift.computed,
        provider=drift.provider,
        detail=drift.detail,
    )


def _billing_out(item: PricedMessage) -> BillingOut | None:
    billing, cost = item.billing, item.cost
    if billing is None:
        return None
    price = cost.price if cost is not None else None
    return BillingOut(
        model=billing.model,
        category=billing.category,
        type=billing.type,
        billable=billing.billable,
        source=billing.source,
        era=billing.era,
        market=item.message.market,
        price=None if price is None else decimal_text(price),
        currency=cost.currency if cost is not None else None,
        drift=[drift_out(d) for d in item.billing_drift],
    )


def message_out(item: PricedMessage) -> MessageOut:
    message, record = item.message, item.message.record
    template = record.template
    return MessageOut(
        id=message.id,
        direction=Direction(message.direction),
        phone_number_id=message.line,
        contact_id=message.contact_id,
        contact_phone=message.contact_phone,
        contact_bsuid=message.contact_bsuid,
        conversation_id=message.conversation_id,
        type=message.type,
        template=TemplateOut(name=template.name, language=template.language) if template else None,
        category=record.category,
        status=message.status,
        at=message.at,
        status_times=StatusTimesOut(
            sent_at=record.status_time("sent"),
            delivered_at=record.status_time("delivered"),
            read_at=record.status_time("read"),
            played_at=record.status_time("played"),
            failed_at=record.status_time("failed"),
        ),
        timeline=[StatusEventOut(status=s, at=at) for s, at in status_timeline(record)],
        errors=[
            ErrorOut(code=e.code, title=e.title, message=e.message, details=e.details)
            for e in record.errors
        ],
        billing=_billing_out(item),
        drift=[drift_out(d) for d in item.drift],
    )


def tenant_rate_card(svc: Services, tenant_id: str) -> RateCard:
    with SqlRateStore(svc.engine, read_only=True) as store:
        return store.rate_card(tenant_id)


@router.get(
    "/messages",
    response_model=MessagePageOut,
    summary="List messages, newest first",
    responses=problem_responses(401, 422),
)
async def messages(
    svc: ServicesDep,
    tenant_id: TenantDep,
    contact_id: Annotated[
        str | None,
        Query(description="A contact id (merged ids too).", max_length=200, pattern=ID_PATTERN),
    ] = None,
    conversation_id: Annotated[
        str | None,
        Query(
            description="A conversation id (absorbed ids too).",
            max_length=200,
            pattern=ID_PATTERN,
        ),
    ] = None,
    direction: Annotated[Literal["inbound", "outbound"] | None, Query()] = None,
    status: Annotated[MessageStatus | None, Query(description="The current status.")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; message time ≥ since.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; message time < until.")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MessagePageOut:
    where = MessageFilter(
        contact_id=contact_id,
        conversation_id=conversation_id,
        direction=direction,
        status=status,
        since=query_instant(since, "query.since"),
        until=query_instant(until, "query.until"),
    )
    check_period(where.since, where.until)

    def load() -> MessagePage:
        card = tenant_rate_card(svc, tenant_id)
        with SqlMessageStore(svc.engine) as store:
            return list_messages(store, card, tenant_id, where, page, page_size)

    found = await run_in_threadpool(load)
    return MessagePageOut(
        items=[message_out(item) for item in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.get(
    "/messages/{message_id:path}",
    response_model=MessageOut,
    summary="One message: status timeline, errors, billing and price",
    responses=problem_responses(401, 404, 422),
)
async def message(
    svc: ServicesDep,
    tenant_id: TenantDep,
    message_id: Annotated[str, Path(description="The message id (wamid).", pattern=ID_PATTERN)],
) -> MessageOut:
    def load() -> PricedMessage | None:
        card = tenant_rate_card(svc, tenant_id)
        with SqlMessageStore(svc.engine) as store:
            return find_message(store, card, tenant_id, message_id)

    found = await run_in_threadpool(load)
    if found is None:
        raise Problem(
            404, "not_found", "Not Found", f"no message {message_id!r}", field="path.message_id"
        )
    return message_out(found)
