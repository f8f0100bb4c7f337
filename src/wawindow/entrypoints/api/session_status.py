"""``GET /v1/session-status``: may this business line write to this user now, and until when.

CubeConnect's session status, extended: the 24-hour customer service window
(with the time left, counting down with the clock), the free entry point window,
the latest conversation with its status as of the request, what may be sent, and
— when free-form is not allowed — the line's templates that may be sent instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.contact_store import SqlContactStore
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.entrypoints.api.contacts import Bsuid, ExternalRef, Id, Phone, not_found, one_of
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep, TenantPolicyDep
from wawindow.entrypoints.api.problems import problem_responses
from wawindow.service.contacts import NotFound, SessionStatus, StoredTemplate, session_status

router = APIRouter(prefix="/v1", tags=["session-status"])


class FreeEntryPointOut(BaseModel):
    """The free entry point window (72h after a reply to an ad/CTA lead; all messages free)."""

    active: bool
    opened_at: datetime
    expires_at: datetime | None


class SessionConversationOut(BaseModel):
    """The thread's latest conversation, its status computed for the request's time."""

    id: str
    status: str = Field(description="active, inactive or ended")
    ended_reason: str | None = Field(description="timeout, manual_close or agent_close")
    started_at: datetime
    ended_at: datetime | None
    messages_count: int


class CanSendOut(BaseModel):
    free_form: bool = Field(
        description="The service window is still open after the tenant's send margin "
        "(setting send_margin, default 60 s)."
    )
    template: bool = Field(description="Templates may be sent at any time.")


class SendableTemplateOut(BaseModel):
    id: str | None = Field(description="Meta's template id, when known")
    name: str
    language: str
    category: str | None
    body: str | None
    param_count: int


class SessionStatusOut(BaseModel):
    phone_number_id: str
    contact_id: str
    as_of: datetime = Field(description="The time every value here is computed for.")
    window_active: bool
    last_inbound_at: datetime | None
    expires_at: datetime | None = Field(description="When the service window ends (or ended).")
    remaining_minutes: int = Field(description="Whole minutes left in the window; 0 when closed.")
    remaining_seconds: int = Field(description="Seconds left in the window; 0 when closed.")
    free_entry_point: FreeEntryPointOut | None
    conversation: SessionConversationOut | None
    can_send: CanSendOut
    templates: list[SendableTemplateOut] = Field(
        description="When free-form is not allowed: the line's templates that may be sent."
    )


def _template(template: StoredTemplate) -> SendableTemplateOut:
    return SendableTemplateOut(
        id=template.template_id,
        name=template.name,
        language=template.language,
        category=template.category,
        body=template.body,
        param_count=template.param_count,
    )


def _out(status: SessionStatus) -> SessionStatusOut:
    fep, view = status.free_entry_point, status.conversation
    return SessionStatusOut(
        phone_number_id=status.line,
        contact_id=status.contact_id,
        as_of=status.at,
        window_active=status.window_active,
        last_inbound_at=status.last_inbound_at,
        expires_at=status.expires_at,
        remaining_minutes=status.remaining_minutes,
        remaining_seconds=status.remaining_seconds,
        free_entry_point=None
        if fep is None
        else FreeEntryPointOut(
            active=fep.active, opened_at=fep.opened_at, expires_at=fep.expires_at
        ),
        conversation=None
        if view is None
        else SessionConversationOut(
            id=view.conversation.id,
            status=view.status.value,
            ended_reason=None if view.ended_reason is None else view.ended_reason.value,
            started_at=view.conversation.started_at,
            ended_at=view.ended_at,
            messages_count=view.conversation.messages_count,
        ),
        can_send=CanSendOut(free_form=status.can_send_free_form, template=True),
        templates=[_template(t) for t in status.templates],
    )


def _selector(field: str, value: str) -> Identifier | str:
    if field == "contact_id":
        return value
    kind = {
        "contact_phone": IdentifierKind.WA_ID,
        "contact_bsuid": IdentifierKind.BSUID,
        "customer_id": IdentifierKind.EXTERNAL_REF,
    }[field]
    return Identifier(kind, value)


@router.get(
    "/session-status",
    response_model=SessionStatusOut,
    summary="The service window, free entry point and conversation of a line with a user",
    responses=problem_responses(401, 404, 422),
)
async def status(
    svc: ServicesDep,
    tenant_id: TenantDep,
    policy: TenantPolicyDep,
    phone_number_id: Annotated[Id, Query()],
    contact_phone: Annotated[Phone | None, Query()] = None,
    contact_bsuid: Annotated[Bsuid | None, Query()] = None,
    customer_id: Annotated[
        ExternalRef | None, Query(description="The contact's external_ref.")
    ] = None,
    contact_id: Annotated[Id | None, Query()] = None,
) -> SessionStatusOut:
    """Name the contact by exactly one of ``contact_phone``, ``contact_bsuid``,
    ``customer_id`` (the contact's ``external_ref``) or ``contact_id``. A contact
    that never wrote to this line gets ``window_active: false`` and nulls."""
    given = {
        "contact_phone": contact_phone,
        "contact_bsuid": contact_bsuid,
        "customer_id": customer_id,
        "contact_id": contact_id,
    }
    field, value = one_of("query", given)
    contact = _selector(field, value)

    def read() -> SessionStatus:
        with SqlContactStore.reading(svc.engine) as store:
            return session_status(store, tenant_id, phone_number_id, contact, svc.clock(), policy)

    try:
        return _out(await run_in_threadpool(read))
    except NotFound as error:
        where = "phone_number_id" if error.what == "phone_number_id" else field
        raise not_found(error, f"query.{where}") from None
