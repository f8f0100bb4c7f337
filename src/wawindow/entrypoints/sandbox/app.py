"""The sandbox's HTTP application (FastAPI).

Two faces:

- the **Cloud API**, answered exactly as WhatsApp answers (Graph error JSON, not
  problem documents): ``POST /{version}/{phone_number_id}/messages`` (send, or mark
  as read) and ``GET /{version}/{waba_id}/message_templates``;
- the **sandbox API** under ``/sandbox/`` for people and tests (RFC 9457 problem
  documents on errors): inject what users do (``inbound``, ``call``), move the
  clock, load templates, queue faults, and read what happened (``messages``,
  ``chats``, ``webhooks``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from wawindow.domain.pricing import era_at
from wawindow.domain.times import iso_z, to_utc
from wawindow.entrypoints.api.problems import (
    Problem,
    install_problem_handlers,
    problem_responses,
)
from wawindow.entrypoints.sandbox import webhook_bodies
from wawindow.entrypoints.sandbox.graph_errors import (
    GraphError,
    invalid_parameter,
    unknown_object,
)
from wawindow.entrypoints.sandbox.message_log import post_view
from wawindow.entrypoints.sandbox.sandbox import (
    Accepted,
    Fault,
    Referral,
    Sandbox,
    SandboxSettings,
    Sender,
)
from wawindow.entrypoints.sandbox.send_requests import (
    InvalidRequest,
    ReadReceipt,
    phone_digits,
    read_request,
)
from wawindow.entrypoints.sandbox.users import UserConflict

VERSION: Final = re.compile(r"v\d{1,3}\.\d{1,2}")
PHONE_NUMBER_ID: Final = r"^[0-9]{1,20}$"
BSUID_PATTERN: Final = r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$"
MAX_FAULTS: Final = 100
MAX_FAULT_DELAY: Final = 120.0

GRAPH_ERROR_EXAMPLE: Final[JsonDict] = {
    "error": {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": "The parameter text['body'] is required.",
        },
        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvWxYz0",
    }
}


# --------------------------------------------------------------------------- models


class GraphErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str
    type: str
    code: int
    error_subcode: int | None = None
    error_data: dict[str, Any] | None = None
    fbtrace_id: str


class GraphErrorDocument(BaseModel):
    """WhatsApp's error JSON."""

    model_config = ConfigDict(json_schema_extra={"example": GRAPH_ERROR_EXAMPLE})

    error: GraphErrorBody


class SendContact(BaseModel):
    input: str
    wa_id: str | None = Field(default=None, description="When sent to a phone number (``to``).")
    user_id: str | None = Field(default=None, description="When sent to a BSUID (``recipient``).")


class SentId(BaseModel):
    id: str
    message_status: str | None = Field(default=None, description="``accepted`` for templates.")


class SendAnswer(BaseModel):
    """The Cloud API's answer to a send; ``{"success": true}`` answers a mark-as-read."""

    messaging_product: Literal["whatsapp"] | None = None
    contacts: list[SendContact] | None = None
    messages: list[SentId] | None = None
    success: bool | None = None


GRAPH_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": GraphErrorDocument, "description": description}
    for status, description in (
        (400, "Invalid request (code 100), template errors (132000…), faults (130429…)"),
        (401, "Missing or wrong access token (code 190)"),
        (404, "Template does not exist (code 132001)"),
        (500, "Fault: unknown error (code 1)"),
        (503, "Fault: service temporarily unavailable (code 2)"),
    )
}


class ButtonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=256)
    payload: str | None = Field(default=None, description="Defaults to the text.")
    context_message_id: str | None = Field(
        default=None, description="The template message whose button was tapped."
    )


class ReactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1)
    emoji: str = Field(description="Empty to remove a reaction.")


class ReferralIn(BaseModel):
    """The Click-to-WhatsApp ad (or Page post) the user came from; defaults fill the rest."""

    model_config = ConfigDict(extra="forbid")

    source_type: Literal["ad", "post"] = "ad"
    source_id: str | None = None
    source_url: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: Literal["image", "video"] | None = None
    image_url: str | None = None
    ctwa_clid: str | None = Field(default=None, description="Generated when absent.")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    phone_number_id: str = Field(pattern=PHONE_NUMBER_ID, description="The business line.")
    from_: str | None = Field(
        default=None,
        alias="from",
        description="The user's phone number (digits, + and spaces allowed).",
    )
    from_user_id: str | None = Field(
        default=None,
        pattern=BSUID_PATTERN,
        description="The user's business-scoped user id; alone, a user whose number is hidden.",
    )
    name: str | None = Field(default=None, max_length=256, description="The profile name.")
    username: str | None = Field(default=None, max_length=64)

    def sender(self) -> Sender:
        wa_id = None
        if self.from_ is not None:
            wa_id = phone_digits(self.from_)
            if wa_id is None:
                raise Problem(
                    422,
                    "validation_error",
                    "Invalid request",
                    f"not a phone number: {self.from_!r}",
                    field="body.from",
                )
        if wa_id is None and self.from_user_id is None:
            raise Problem(
                422,
                "validation_error",
                "Invalid request",
                "from or from_user_id is required",
                field="body.from",
            )
        return Sender(self.phone_number_id, wa_id, self.from_user_id, self.name, self.username)


class InboundIn(UserIn):
    """What a user sends: exactly one of ``text``, ``button``, ``reaction``."""

    text: str | None = Field(default=None, min_length=1, max_length=4096)
    button: str | ButtonIn | None = Field(default=None, description="A quick-reply button tap.")
    reaction: ReactionIn | None = None
    referral: ReferralIn | None = None


class CallIn(UserIn):
    event: Literal["connect", "terminate"] = "connect"
    call_id: str | None = Field(default=None, description="Of the call to end (``terminate``).")


class WebhookOut(BaseModel):
    number: int = Field(description="Its place in the order of posts.")
    field: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    status_code: int | None
    error: str | None


class InboundOut(BaseModel):
    id: str
    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    body: dict[str, Any] = Field(description="The webhook body posted (as JSON).")
    webhook: WebhookOut


class ClockIn(BaseModel):
    """One of ``advance_seconds``, ``offset_seconds`` or ``at``; and/or ``frozen``."""

    model_config = ConfigDict(extra="forbid")

    advance_seconds: float | None = Field(default=None, ge=-10 * 365 * 86400, le=10 * 365 * 86400)
    offset_seconds: float | None = Field(default=None, ge=-10 * 365 * 86400, le=10 * 365 * 86400)
    at: datetime | None = None
    frozen: bool | None = Field(
        default=None, description="Stop (true) or restart (false) the clock."
    )


class ClockOut(BaseModel):
    now: datetime
    unix: int
    offset_seconds: int = Field(description="From the wall clock.")
    frozen: bool
    era: str | None = Field(description="The pricing era in force now (CBP, PMP-1, PMP-2).")


class FaultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(
        default=None, ge=400, le=599, description="HTTP status to answer with."
    )
    error_code: int | None = Field(default=None, ge=1, description="WhatsApp error code (130429…).")
    delay_seconds: float | None = Field(
        default=None,
        ge=0,
        le=MAX_FAULT_DELAY,
        description="Answer this late. Without status/error_code the message is still sent.",
    )


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responses: list[FaultIn] = Field(min_length=1, max_length=MAX_FAULTS)


class FaultsOut(BaseModel):
    pending: list[FaultIn]


class TemplatesLoaded(BaseModel):
    loaded: int
    errors: list[dict[str, Any]] = Field(description="Malformed entries: index and message.")
    templates: int = Field(description="How many templates the sandbox has now.")


class MessagesOut(BaseModel):
    data: list[dict[str, Any]]
    pending_webhooks: int = Field(description="Webhook posts not done yet.")


class SandboxInfo(BaseModel):
    webhook_url: str
    seed: int
    status_delay: float
    display_phone_number: str
    waba_id: str
    access_token_required: bool
    clock: ClockOut


# --------------------------------------------------------------------------- helpers


def graph_error(sandbox: Sandbox, error: GraphError) -> JSONResponse:
    document = error.response_document(sandbox.ids.fbtrace_id())
    return JSONResponse(document, status_code=error.http_status)


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def _token(request: Request) -> str | None:
    token = request.query_params.get("access_token")
    return f"Bearer {token}" if token else request.headers.get("authorization")


def _clock_out(sandbox: Sandbox) -> ClockOut:
    now = sandbox.clock.now()
    era = era_at(now, UTC)
    return ClockOut(
        now=now,
        unix=int(now.timestamp()),
        offset_seconds=int(sandbox.clock.offset().total_seconds()),
        frozen=sandbox.clock.frozen,
        era=era.name if era else None,
    )


def _webhook_out(sandbox: Sandbox, number: int) -> WebhookOut:
    return WebhookOut(**post_view(sandbox.sender.posts[number - 1]))


def _inbound_content(spec: InboundIn, sandbox: Sandbox) -> webhook_bodies.InboundContent:
    given = [name for name in ("text", "button", "reaction") if getattr(spec, name) is not None]
    if len(given) != 1:
        detail = "give exactly one of text, button, reaction" + (
            f" (got {', '.join(given)})" if given else ""
        )
        raise Problem(422, "validation_error", "Invalid request", detail, field="body.text")
    if spec.text is not None:
        return webhook_bodies.text(spec.text)
    if spec.reaction is not None:
        return webhook_bodies.reaction(spec.reaction.message_id, spec.reaction.emoji)
    button = spec.button if isinstance(spec.button, ButtonIn) else ButtonIn(text=str(spec.button))
    business = sandbox.business(spec.phone_number_id)
    payload = button.payload or button.text
    return webhook_bodies.quick_reply(business, button.text, payload, button.context_message_id)


# --------------------------------------------------------------------------- the Cloud API

cloud_api = APIRouter(tags=["Cloud API"])


@cloud_api.post(
    "/{version}/{phone_number_id}/messages",
    response_model=SendAnswer,
    response_model_exclude_none=True,
    responses=GRAPH_ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": True,
        }
    },
)
async def send_message(version: str, phone_number_id: str, request: Request) -> JSONResponse:
    """Send a message (text, media, location, contacts, interactive, reaction, template),
    or mark a user's message read (``{"status": "read", "message_id"}``), as the Cloud API does.
    Statuses follow by webhook."""
    sandbox = _sandbox(request)
    refused = sandbox.check_token(_token(request))
    if refused is not None:
        return graph_error(sandbox, refused)
    if not VERSION.fullmatch(version) or not phone_number_id.isdigit():
        return graph_error(sandbox, unknown_object(phone_number_id))
    fault = sandbox.next_fault()
    failure = fault.error() if fault else None
    if fault is not None and failure is not None:
        await asyncio.sleep(fault.delay_seconds)
        return graph_error(sandbox, failure)
    answer = _send(sandbox, phone_number_id, await request.body())
    if fault is not None:
        # The message went out already: a client that gives up waiting has still sent it.
        await asyncio.sleep(fault.delay_seconds)
    if isinstance(answer, GraphError):
        return graph_error(sandbox, answer)
    return JSONResponse(answer)


def _send(sandbox: Sandbox, phone_number_id: str, raw: bytes) -> dict[str, Any] | GraphError:
    try:
        document = json.loads(raw)
        parsed = read_request(document)
    except (ValueError, UnicodeDecodeError) as error:
        if isinstance(error, InvalidRequest):
            return invalid_parameter(error.details)
        return invalid_parameter("The request body is not valid JSON.")
    if isinstance(parsed, ReadReceipt):
        return sandbox.mark_read(phone_number_id, parsed)
    result = sandbox.send(phone_number_id, parsed, document)
    return result.answer if isinstance(result, Accepted) else result


@cloud_api.get(
    "/{version}/{waba_id}/message_templates",
    responses=GRAPH_ERRORS,
)
async def list_templates(version: str, waba_id: str, request: Request) -> JSONResponse:
    """The sandbox's templates, as WhatsApp lists a business account's templates."""
    sandbox = _sandbox(request)
    refused = sandbox.check_token(_token(request))
    if refused is not None:
        return graph_error(sandbox, refused)
    if not VERSION.fullmatch(version) or waba_id != sandbox.settings.account_id:
        return graph_error(sandbox, unknown_object(waba_id))
    listing = sandbox.templates.listing()
    listing["paging"] = {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}
    return JSONResponse(listing)


# --------------------------------------------------------------------------- the sandbox API

sandbox_api = APIRouter(prefix="/sandbox", tags=["sandbox"], responses=problem_responses(422))


@sandbox_api.get("", response_model=SandboxInfo)
async def info(request: Request) -> SandboxInfo:
    """How this sandbox runs: its webhook URL, seed, clock."""
    sandbox = _sandbox(request)
    settings = sandbox.settings
    return SandboxInfo(
        webhook_url=settings.webhook_url,
        seed=sandbox.ids.seed,
        status_delay=settings.status_delay,
        display_phone_number=settings.display_phone_number,
        waba_id=settings.account_id,
        access_token_required=settings.access_token is not None,
        clock=_clock_out(sandbox),
    )


@sandbox_api.post("/inbound", response_model=InboundOut)
async def inbound(spec: InboundIn, request: Request) -> InboundOut:
    """A user sends a message: its webhook is signed and posted (after any queued before it);
    the answer comes once that post is done (or has failed)."""
    sandbox = _sandbox(request)
    sent = _inbound_content(spec, sandbox)
    sender = spec.sender()
    referral = Referral(**spec.referral.model_dump()) if spec.referral else None
    try:
        message = sandbox.inbound(sender, sent, referral)
    except UserConflict as conflict:
        raise Problem(
            409, "user_conflict", "Two users", str(conflict), field="body.from_user_id"
        ) from conflict
    await message.post.done.wait()
    return InboundOut(
        id=message.id,
        phone_number_id=message.phone_number_id,
        wa_id=message.user.wa_id,
        user_id=message.user.bsuid,
        body=message.body,
        webhook=_webhook_out(sandbox, message.post.number),
    )


@sandbox_api.post("/call", response_model=InboundOut)
async def user_call(spec: CallIn, request: Request) -> InboundOut:
    """A user calls the business (``connect``, opening the window) or hangs up (``terminate``)."""
    sandbox = _sandbox(request)
    try:
        message = sandbox.call(spec.sender(), spec.event, spec.call_id)
    except UserConflict as conflict:
        raise Problem(
            409, "user_conflict", "Two users", str(conflict), field="body.from_user_id"
        ) from conflict
    await message.post.done.wait()
    return InboundOut(
        id=message.id,
        phone_number_id=message.phone_number_id,
        wa_id=message.user.wa_id,
        user_id=message.user.bsuid,
        body=message.body,
        webhook=_webhook_out(sandbox, message.post.number),
    )


@sandbox_api.get("/clock", response_model=ClockOut)
async def get_clock(request: Request) -> ClockOut:
    return _clock_out(_sandbox(request))


@sandbox_api.post("/clock", response_model=ClockOut)
async def set_clock(change: ClockIn, request: Request) -> ClockOut:
    """Move the sandbox's clock: ahead or back (``advance_seconds``), to an offset from the
    wall clock (``offset_seconds``) or to an instant (``at``); stop or restart it (``frozen``)."""
    sandbox = _sandbox(request)
    moves = [
        n for n in ("advance_seconds", "offset_seconds", "at") if getattr(change, n) is not None
    ]
    if len(moves) > 1 or (not moves and change.frozen is None):
        detail = "give one of advance_seconds, offset_seconds, at (and/or frozen)"
        raise Problem(
            422,
            "validation_error",
            "Invalid request",
            detail,
            field=f"body.{(moves or ['advance_seconds'])[-1]}",
        )
    clock = sandbox.clock
    if change.frozen is True:
        clock.freeze()
    if change.advance_seconds is not None:
        clock.advance(change.advance_seconds)
    elif change.offset_seconds is not None:
        clock.set_offset(change.offset_seconds)
    elif change.at is not None:
        clock.set_at(to_utc(change.at))
    if change.frozen is False:
        clock.thaw()
    return _clock_out(sandbox)


@sandbox_api.get("/templates")
async def get_templates(request: Request) -> dict[str, Any]:
    """The sandbox's templates, as WhatsApp lists them (``{"data": [...]}``)."""
    return _sandbox(request).templates.listing()


@sandbox_api.post("/templates", response_model=TemplatesLoaded)
async def load_templates(
    request: Request,
    listing: Annotated[
        dict[str, Any] | list[Any],
        Body(description='WhatsApp\'s template listing: {"data": [{"name", "language", ...}]}'),
    ],
) -> TemplatesLoaded:
    """Add (or replace, by name and language) templates; their category prices their messages."""
    sandbox = _sandbox(request)
    try:
        loaded, errors = sandbox.templates.load(listing)
    except ValueError as error:
        raise Problem(
            422, "validation_error", "Invalid request", str(error), field="body.data"
        ) from error
    return TemplatesLoaded(
        loaded=loaded,
        errors=[{"index": e.index, "message": e.message} for e in errors],
        templates=len(sandbox.templates.listing()["data"]),
    )


@sandbox_api.get("/messages", response_model=MessagesOut)
async def list_messages(
    request: Request,
    phone_number_id: Annotated[str | None, Query(pattern=PHONE_NUMBER_ID)] = None,
    direction: Literal["inbound", "outbound"] | None = None,
) -> MessagesOut:
    """Every message sent and received, with outcome, pricing and the state of each webhook."""
    sandbox = _sandbox(request)
    messages = sandbox.log.select(phone_number_id, direction)
    return MessagesOut(data=[m.view() for m in messages], pending_webhooks=sandbox.sender.pending)


@sandbox_api.get("/messages/{message_id}", responses=problem_responses(404))
async def get_message(message_id: Annotated[str, Path()], request: Request) -> dict[str, Any]:
    message = _sandbox(request).log.get(message_id)
    if message is None:
        raise Problem(404, "not_found", "Not Found", f"no message {message_id}")
    return message.view()


@sandbox_api.get("/chats")
async def list_chats(request: Request) -> dict[str, Any]:
    """The sandbox's own view of every chat: window, free entry point, CBP conversations."""
    sandbox = _sandbox(request)
    now = sandbox.clock.now()
    data = []
    for line, user, chat in sandbox.chats():
        fep = chat.entry_point
        data.append(
            {
                "phone_number_id": line,
                "wa_id": user.wa_id,
                "user_id": user.bsuid,
                "name": user.name,
                "window": {
                    "open": chat.window_open(now),
                    "last_inbound_at": iso_z(chat.window.last_inbound_at),
                    "expires_at": iso_z(chat.window.expires_at),
                },
                "free_entry_point": {
                    "open": fep.is_open(now),
                    "lead_at": iso_z(fep.lead_at),
                    "opened_at": iso_z(fep.opened_at),
                    "expires_at": iso_z(fep.expires_at),
                },
                "conversations": [
                    {"id": c.id, "category": c.family, "expires_at": iso_z(c.until)}
                    for c in chat.conversations
                    if now < c.until
                ],
            }
        )
    return {"now": iso_z(now), "data": data}


@sandbox_api.get("/webhooks")
async def list_webhooks(request: Request) -> dict[str, Any]:
    """Every webhook post, in order, with its state and body."""
    posts = _sandbox(request).sender.posts
    return {"data": [{**post_view(p), "body": json.loads(p.body)} for p in posts]}


@sandbox_api.get("/faults", response_model=FaultsOut)
async def get_faults(request: Request) -> FaultsOut:
    return FaultsOut(pending=[_fault_out(f) for f in _sandbox(request).faults])


@sandbox_api.post("/faults", response_model=FaultsOut)
async def add_faults(faults: FaultsIn, request: Request) -> FaultsOut:
    """The next send requests are answered these ways, one each, in order: an HTTP error
    status, a WhatsApp error code, and/or a delay."""
    sandbox = _sandbox(request)
    for index, fault in enumerate(faults.responses):
        if fault.status is None and fault.error_code is None and fault.delay_seconds is None:
            raise Problem(
                422,
                "validation_error",
                "Invalid request",
                "give status, error_code and/or delay_seconds",
                field=f"body.responses.{index}",
            )
    sandbox.faults.extend(
        Fault(f.status, f.error_code, f.delay_seconds or 0.0) for f in faults.responses
    )
    return FaultsOut(pending=[_fault_out(f) for f in sandbox.faults])


@sandbox_api.delete("/faults", response_model=FaultsOut)
async def clear_faults(request: Request) -> FaultsOut:
    _sandbox(request).faults.clear()
    return FaultsOut(pending=[])


def _fault_out(fault: Fault) -> FaultIn:
    return FaultIn(
        status=fault.status, error_code=fault.error_code, delay_seconds=fault.delay_seconds or None
    )


# --------------------------------------------------------------------------- the app


def create_sandbox_app(sandbox: Sandbox) -> FastAPI:
    """The app serving ``sandbox``; its webhook sender runs while the app does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await sandbox.sender.start()
        try:
            yield
        finally:
            await sandbox.sender.close()

    app = FastAPI(
        title="wawindow sandbox",
        summary="A local stand-in for the WhatsApp Cloud API.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    install_problem_handlers(app)
    app.include_router(sandbox_api)
    app.include_router(cloud_api)
    return app


def app_from_settings(settings: SandboxSettings) -> FastAPI:
    return create_sandbox_app(Sandbox(settings))
