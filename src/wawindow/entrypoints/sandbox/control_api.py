"""The sandbox API (``/sandbox/...``), for people and tests: play the users, move the
clock, load templates, queue faults, and read what happened. Errors are RFC 9457
problem documents naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request

from wawindow.domain.pricing import era_at
from wawindow.domain.times import iso_z, to_utc
from wawindow.entrypoints.api.problems import Problem, problem_responses
from wawindow.entrypoints.sandbox import webhook_bodies
from wawindow.entrypoints.sandbox.control_models import (
    PHONE_NUMBER_ID,
    ButtonIn,
    CallIn,
    ClockIn,
    ClockOut,
    FaultIn,
    FaultsIn,
    FaultsOut,
    InboundIn,
    InboundOut,
    MessagesOut,
    SandboxInfo,
    TemplatesLoaded,
    WebhookOut,
)
from wawindow.entrypoints.sandbox.deps import sandbox_of
from wawindow.entrypoints.sandbox.message_log import ReceivedMessage, post_view
from wawindow.entrypoints.sandbox.sandbox import Fault, Referral, Sandbox
from wawindow.entrypoints.sandbox.users import UserConflict


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


router = APIRouter(prefix="/sandbox", tags=["sandbox"], responses=problem_responses(422))


@router.get("", response_model=SandboxInfo)
async def info(request: Request) -> SandboxInfo:
    """How this sandbox runs: its webhook URL, seed, clock."""
    sandbox = sandbox_of(request)
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


@router.post("/inbound", response_model=InboundOut, responses=problem_responses(409))
async def inbound(spec: InboundIn, request: Request) -> InboundOut:
    """A user sends a message: its webhook is signed and posted (after any queued before it);
    the answer comes once that post is done (or has failed)."""
    sandbox = sandbox_of(request)
    sent = _inbound_content(spec, sandbox)
    referral = Referral(**spec.referral.model_dump()) if spec.referral else None
    with _one_user():
        message = sandbox.inbound(spec.sender(), sent, referral)
    return await _posted(message)


@router.post("/call", response_model=InboundOut, responses=problem_responses(409))
async def user_call(spec: CallIn, request: Request) -> InboundOut:
    """A user calls the business (``connect``, opening the window) or hangs up (``terminate``)."""
    with _one_user():
        message = sandbox_of(request).call(spec.sender(), spec.event, spec.call_id)
    return await _posted(message)


@contextmanager
def _one_user() -> Iterator[None]:
    """A phone number and a BSUID of two different users: a 409 naming the BSUID."""
    try:
        yield
    except UserConflict as conflict:
        raise Problem(
            409, "user_conflict", "Two users", str(conflict), field="body.from_user_id"
        ) from conflict


async def _posted(message: ReceivedMessage) -> InboundOut:
    """The answer once the message's webhook post is done (delivered or failed)."""
    await message.post.done.wait()
    return InboundOut(
        id=message.id,
        phone_number_id=message.phone_number_id,
        wa_id=message.user.wa_id,
        user_id=message.user.bsuid,
        body=message.body,
        webhook=WebhookOut(**post_view(message.post)),
    )


@router.get("/clock", response_model=ClockOut)
async def get_clock(request: Request) -> ClockOut:
    return _clock_out(sandbox_of(request))


@router.post("/clock", response_model=ClockOut)
async def set_clock(change: ClockIn, request: Request) -> ClockOut:
    """Move the sandbox's clock: ahead or back (``advance_seconds``), to an offset from the
    wall clock (``offset_seconds``) or to an instant (``at``); stop or restart it (``frozen``)."""
    sandbox = sandbox_of(request)
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


@router.get("/templates")
async def get_templates(request: Request) -> dict[str, Any]:
    """The sandbox's templates, as WhatsApp lists them (``{"data": [...]}``)."""
    return sandbox_of(request).templates.listing()


@router.post("/templates", response_model=TemplatesLoaded)
async def load_templates(
    request: Request,
    listing: Annotated[
        dict[str, Any] | list[Any],
        Body(description='WhatsApp\'s template listing: {"data": [{"name", "language", ...}]}'),
    ],
) -> TemplatesLoaded:
    """Add (or replace, by name and language) templates; their category prices their messages."""
    sandbox = sandbox_of(request)
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


@router.get("/messages", response_model=MessagesOut)
async def list_messages(
    request: Request,
    phone_number_id: Annotated[str | None, Query(pattern=PHONE_NUMBER_ID)] = None,
    direction: Literal["inbound", "outbound"] | None = None,
) -> MessagesOut:
    """Every message sent and received, with outcome, pricing and the state of each webhook."""
    sandbox = sandbox_of(request)
    messages = sandbox.log.select(phone_number_id, direction)
    return MessagesOut(data=[m.view() for m in messages], pending_webhooks=sandbox.sender.pending)


@router.get("/messages/{message_id}", responses=problem_responses(404))
async def get_message(message_id: Annotated[str, Path()], request: Request) -> dict[str, Any]:
    message = sandbox_of(request).log.get(message_id)
    if message is None:
        raise Problem(404, "not_found", "Not Found", f"no message {message_id}")
    return message.view()


@router.get("/chats")
async def list_chats(request: Request) -> dict[str, Any]:
    """The sandbox's own view of every chat: window, free entry point, CBP conversations."""
    sandbox = sandbox_of(request)
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


@router.get("/webhooks")
async def list_webhooks(request: Request) -> dict[str, Any]:
    """Every webhook post, in order, with its state and body."""
    posts = sandbox_of(request).sender.posts
    return {"data": [{**post_view(p), "body": json.loads(p.body)} for p in posts]}


@router.get("/faults", response_model=FaultsOut)
async def get_faults(request: Request) -> FaultsOut:
    return FaultsOut(pending=[_fault_out(f) for f in sandbox_of(request).faults])


@router.post("/faults", response_model=FaultsOut)
async def add_faults(faults: FaultsIn, request: Request) -> FaultsOut:
    """The next send requests are answered these ways, one each, in order: an HTTP error
    status, a WhatsApp error code, and/or a delay."""
    sandbox = sandbox_of(request)
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


@router.delete("/faults", response_model=FaultsOut)
async def clear_faults(request: Request) -> FaultsOut:
    sandbox_of(request).faults.clear()
    return FaultsOut(pending=[])


def _fault_out(fault: Fault) -> FaultIn:
    return FaultIn(
        status=fault.status, error_code=fault.error_code, delay_seconds=fault.delay_seconds or None
    )
