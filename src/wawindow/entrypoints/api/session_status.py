"""``GET /v1/session-status``: may this business line write to this user now, and until when.

CubeConnect's session status, extended: the 24-hour customer service window
(with the time left, counting down with the clock), the free entry point window,
the latest conversation with its status as of the request, what may be sent, and
— when free-form is not allowed — the line's templates that may be sent instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from wawindow.adapters.db.session_reader import SqlSessionReader
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.entrypoints.api.contacts import Bsuid, ExternalRef, Id, Phone, not_found, one_of
from wawindow.entrypoints.api.deps import (
    ApiKeyDep,
    ServicesDep,
    api_key_of,
    bounded_read,
    services_of,
    unknown_key,
)
from wawindow.entrypoints.api.direct_route import direct_route, parse_query
from wawindow.entrypoints.api.problems import problem_responses
from wawindow.service.contacts import NotFound, SessionStatus, StoredTemplate, session_status
from wawindow.service.tenant_settings import policy_from_settings
from wawindow.service.tenants import owner_of_key

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


def _template(template: StoredTemplate) -> dict[str, object]:
    return {
        "id": template.template_id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "body": template.body,
        "param_count": template.param_count,
    }


def _document(status: SessionStatus) -> dict[str, object]:
    """``SessionStatusOut`` as JSON-ready values, built directly: the most frequent request
    does not pay for building and then validating models (``tests/api`` check the shape
    against the schema)."""
    fep, view = status.free_entry_point, status.conversation
    return {
        "phone_number_id": status.line,
        "contact_id": status.contact_id,
        "as_of": status.at,
        "window_active": status.window_active,
        "last_inbound_at": status.last_inbound_at,
        "expires_at": status.expires_at,
        "remaining_minutes": status.remaining_minutes,
        "remaining_seconds": status.remaining_seconds,
        "free_entry_point": None
        if fep is None
        else {"active": fep.active, "opened_at": fep.opened_at, "expires_at": fep.expires_at},
        "conversation": None
        if view is None
        else {
            "id": view.conversation.id,
            "status": view.status.value,
            "ended_reason": None if view.ended_reason is None else view.ended_reason.value,
            "started_at": view.conversation.started_at,
            "ended_at": view.ended_at,
            "messages_count": view.conversation.messages_count,
        },
        "can_send": {"free_form": status.can_send_free_form, "template": True},
        "templates": [_template(t) for t in status.templates],
    }


def _selector(field: str, value: str) -> Identifier | str:
    if field == "contact_id":
        return value
    kind = {
        "contact_phone": IdentifierKind.WA_ID,
        "contact_bsuid": IdentifierKind.BSUID,
        "customer_id": IdentifierKind.EXTERNAL_REF,
    }[field]
    return Identifier(kind, value)


class SessionStatusQuery(BaseModel):
    """Name the contact by exactly one of ``contact_phone``, ``contact_bsuid``,
    ``customer_id`` or ``contact_id``."""

    phone_number_id: Id
    contact_phone: Phone | None = None
    contact_bsuid: Bsuid | None = None
    customer_id: ExternalRef | None = Field(None, description="The contact's external_ref.")
    contact_id: Id | None = None


async def status(
    svc: ServicesDep, key: ApiKeyDep, query: Annotated[SessionStatusQuery, Query()]
) -> Response:
    """Name the contact by exactly one of ``contact_phone``, ``contact_bsuid``,
    ``customer_id`` (the contact's ``external_ref``) or ``contact_id``. A contact
    that never wrote to this line gets ``window_active: false`` and nulls."""
    given = {
        "contact_phone": query.contact_phone,
        "contact_bsuid": query.contact_bsuid,
        "customer_id": query.customer_id,
        "contact_id": query.contact_id,
    }
    field, value = one_of("query", given)
    contact, line = _selector(field, value), query.phone_number_id

    def read() -> SessionStatus | None:
        # The key's owner and the status in one read.
        with SqlSessionReader(svc.engine) as reader:
            owner = owner_of_key(reader, key)
            if owner is None:
                return None
            policy = policy_from_settings(owner.settings)
            return session_status(reader, owner.tenant_id, line, contact, svc.clock(), policy)

    try:
        found = await bounded_read(svc, read)
    except NotFound as error:
        where = "phone_number_id" if error.what == "phone_number_id" else field
        raise not_found(error, f"query.{where}") from None
    if found is None:
        raise unknown_key()
    return Response(msgspec.json.encode(_document(found)), media_type="application/json")


async def answer(request: Request) -> Response:
    """``status`` without FastAPI's per-request dependency solving (``direct_route``)."""
    key = api_key_of(request)
    query = parse_query(SessionStatusQuery, request.query_params)
    return await status(services_of(request), key, query)


router.add_api_route(
    "/session-status",
    status,
    methods=["GET"],
    response_model=SessionStatusOut,
    summary="The service window, free entry point and conversation of a line with a user",
    responses=problem_responses(401, 404, 422),
    route_class_override=direct_route(answer),
)
