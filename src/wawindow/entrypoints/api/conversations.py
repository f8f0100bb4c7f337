"""``GET /v1/conversations``: a tenant's conversations, status computed at request time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.query_store import SqlQueryStore
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import problem_responses
from wawindow.service.queries import ConversationListing, list_conversations

router = APIRouter(prefix="/v1", tags=["conversations"])


class ConversationOut(BaseModel):
    id: str
    tenant_id: str
    phone_number_id: str
    customer_id: str | None
    contact_id: str
    contact_phone: str | None
    contact_bsuid: str | None
    contact_name: str | None
    status: str
    ended_reason: str | None
    initiated_by: str
    origin: str
    category: str
    messages_count: int
    started_at: datetime
    ended_at: datetime | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    total: int
    page: int
    page_size: int


@router.get(
    "/conversations",
    response_model=ConversationPage,
    summary="List conversations, newest first",
    responses=problem_responses(401, 422),
)
async def conversations(
    svc: ServicesDep,
    tenant_id: TenantDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ConversationPage:
    def load() -> ConversationListing:
        with SqlQueryStore(svc.engine) as store:
            return list_conversations(store, tenant_id, svc.clock(), page, page_size)

    listing = await run_in_threadpool(load)
    items = [
        ConversationOut(
            id=row.conversation.id,
            tenant_id=row.tenant_id,
            phone_number_id=row.line,
            customer_id=row.external_ref,
            contact_id=row.contact_id,
            contact_phone=row.contact_phone,
            contact_bsuid=row.contact_bsuid,
            contact_name=row.contact_name,
            status=view.status.value,
            ended_reason=view.ended_reason.value if view.ended_reason else None,
            initiated_by=row.conversation.initiated_by,
            origin=row.conversation.origin.value,
            category=row.conversation.category or "service",
            messages_count=row.conversation.messages_count,
            started_at=row.conversation.started_at,
            ended_at=view.ended_at,
            last_inbound_at=row.conversation.last_inbound_at,
            last_outbound_at=row.conversation.last_outbound_at,
        )
        for row, view in listing.items
    ]
    return ConversationPage(
        items=items, total=listing.total, page=listing.page, page_size=listing.page_size
    )
