"""``/v1/conversations``: list, get, close. Status is computed at the moment of the request."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.query_store import SqlQueryStore
from wawindow.adapters.markets import InvalidPhoneNumber, normalise_phone
from wawindow.bootstrap import Services
from wawindow.domain.conversations import ConversationStatus
from wawindow.domain.facts import CloseReason, ManualClose
from wawindow.domain.identity import Identity
from wawindow.domain.policy import Policy
from wawindow.domain.thread_view import ConversationView
from wawindow.domain.times import iso_z, parse_iso
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep, TenantPolicyDep
from wawindow.entrypoints.api.problems import Problem, problem_responses
from wawindow.entrypoints.api.query_params import check_period, query_instant
from wawindow.service.queries import (
    ConversationFilter,
    ConversationListing,
    StoredConversation,
    find_conversation,
    list_conversations,
    status_window,
)

router = APIRouter(prefix="/v1", tags=["conversations"])


class ConversationOut(BaseModel):
    id: str
    tenant_id: str
    phone_number_id: str
    customer_id: str | None = Field(description="The contact's external_ref.")
    contact_id: str
    contact_phone: str | None
    contact_bsuid: str | None
    contact_name: str | None
    status: ConversationStatus
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
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class CloseRequest(BaseModel):
    reason: Literal["manual_close", "agent_close"] = "manual_close"


def conversation_out(row: StoredConversation, view: ConversationView) -> ConversationOut:
    conversation = row.conversation
    return ConversationOut(
        id=conversation.id,
        tenant_id=row.tenant_id,
        phone_number_id=row.line,
        customer_id=row.external_ref,
        contact_id=row.contact_id,
        contact_phone=row.contact_phone,
        contact_bsuid=row.contact_bsuid,
        contact_name=row.contact_name,
        status=view.status,
        ended_reason=view.ended_reason.value if view.ended_reason else None,
        initiated_by=conversation.initiated_by,
        origin=conversation.origin.value,
        category=conversation.category or "service",
        messages_count=conversation.messages_count,
        started_at=conversation.started_at,
        ended_at=view.ended_at,
        last_inbound_at=conversation.last_inbound_at,
        last_outbound_at=conversation.last_outbound_at,
    )


@router.get(
    "/conversations",
    response_model=ConversationPage,
    summary="List conversations, newest first",
    responses=problem_responses(401, 422),
)
async def conversations(
    svc: ServicesDep,
    tenant_id: TenantDep,
    policy: TenantPolicyDep,
    status: ConversationStatus | None = None,
    phone_number_id: str | None = None,
    customer_id: Annotated[str | None, Query(description="The contact's external_ref.")] = None,
    contact_phone: Annotated[str | None, Query(description="Any format; normalised.")] = None,
    contact_bsuid: str | None = None,
    since: Annotated[datetime | None, Query(description="started_at at or after.")] = None,
    until: Annotated[datetime | None, Query(description="started_at before.")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before.")] = None,
) -> ConversationPage:
    now = svc.clock()
    where = ConversationFilter(
        status=status_window(status, now, policy) if status else None,
        line=phone_number_id,
        external_ref=customer_id,
        contact_phone=_phone(contact_phone),
        contact_bsuid=contact_bsuid,
        since=query_instant(since, "query.since"),
        until=query_instant(until, "query.until"),
        after=_decode_cursor(cursor) if cursor else None,
    )
    check_period(where.since, where.until)

    def load() -> ConversationListing:
        with SqlQueryStore(svc.engine) as store:
            return list_conversations(store, tenant_id, now, where, page, page_size, policy)

    listing = await run_in_threadpool(load)
    return ConversationPage(
        items=[conversation_out(row, view) for row, view in listing.items],
        total=listing.total,
        page=listing.page,
        page_size=listing.page_size,
        next_cursor=_encode_cursor(listing.next_cursor) if listing.next_cursor else None,
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="One conversation (an id absorbed by a merge gives the surviving one)",
    responses=problem_responses(401, 404),
)
async def conversation(
    svc: ServicesDep, tenant_id: TenantDep, policy: TenantPolicyDep, conversation_id: str
) -> ConversationOut:
    row, view = await run_in_threadpool(_find, svc, tenant_id, conversation_id, policy)
    return conversation_out(row, view)


@router.post(
    "/conversations/{conversation_id}/close",
    response_model=ConversationOut,
    summary="Close a conversation now; the user's next message starts a new one",
    responses=problem_responses(401, 404, 422),
)
async def close(
    svc: ServicesDep,
    tenant_id: TenantDep,
    policy: TenantPolicyDep,
    conversation_id: str,
    request: CloseRequest,
) -> ConversationOut:
    def run() -> tuple[StoredConversation, ConversationView]:
        row, view = _find(svc, tenant_id, conversation_id, policy)
        if view.ended_at is not None:
            return row, view  # ended already: closing again changes nothing
        fact = ManualClose(
            row.line,
            f"close_{uuid.uuid4().hex}",
            svc.clock(),
            Identity(),
            CloseReason(request.reason),
        )
        with svc.ingest_store() as store:
            svc.ingestor.close(store, row.thread_id, fact, svc.clock())
        return _find(svc, tenant_id, row.conversation.id, policy)

    row, view = await run_in_threadpool(run)
    return conversation_out(row, view)


def _find(
    svc: Services, tenant_id: str, conversation_id: str, policy: Policy
) -> tuple[StoredConversation, ConversationView]:
    with SqlQueryStore(svc.engine) as store:
        found = find_conversation(store, tenant_id, conversation_id, svc.clock(), policy)
    if found is None:
        raise Problem(
            404,
            "not_found",
            "Not found",
            f"no conversation {conversation_id!r}",
            field="path.conversation_id",
        )
    return found


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalise_phone(value).lstrip("+")
    except InvalidPhoneNumber as error:
        raise Problem(
            422, "validation_error", "Invalid request", str(error), field="query.contact_phone"
        ) from error


def _encode_cursor(after: tuple[datetime, str]) -> str:
    raw = f"{iso_z(after[0])}|{after[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        started, conversation_id = raw.split("|", 1)
        return parse_iso(started), conversation_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise Problem(
            422,
            "validation_error",
            "Invalid request",
            "not a cursor from this API",
            field="query.cursor",
        ) from error
