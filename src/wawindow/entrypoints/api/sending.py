"""``POST /v1/messages`` and ``POST /v1/contacts/{id}/reply``: send through the gate.

A send names its line (``phone_number_id``), its recipient (``to`` a phone number
in any format, or ``contact_id``, or ``bsuid``) and its message: ``text``, or a
``type`` with its ``content`` (the Cloud API object of that type), or a
``template``. A free-form message may carry a ``fallback_template``: when the
service window is closed the template goes instead (smart send), and the answer
says which one went.

``?dry_run=true`` answers the gate's decision, its reason and the billing to
expect (priced on the tenant's rate card) without sending or storing anything.
A refused send is a problem document: 403 ``window_closed`` (with the window's
times and the line's approved templates), 403 ``template_not_approved``, 422
``template_not_found``, ``template_language_mismatch``, ``template_params_mismatch``.
WhatsApp's own refusals keep its code, title, details and trace id; a send whose
outcome is unknown (WhatsApp took the request and never answered) is a 504
``send_outcome_unknown`` and is never repeated. An ``Idempotency-Key`` header
makes a retried request safe: the same key and body answer the first response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from wawindow.domain.send_gate import Reason
from wawindow.domain.templates import TemplateProblemCode, check_template_send_in
from wawindow.entrypoints.api.contacts import PRINTABLE, Bsuid, Id, Phone, not_found
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import FieldError, Problem, problem_responses
from wawindow.service.cloud_api_messages import FreeForm, TemplateMessage
from wawindow.service.contacts import NotFound
from wawindow.service.idempotency import IdempotencyKeyReused, SendInProgress, request_hash
from wawindow.service.send_records import FailureKind, SendRecord, SendSource, SendState
from wawindow.service.sending import (
    LineCannotSend,
    Outgoing,
    Quote,
    Recipient,
    RecipientProblem,
    SendDenied,
    SendResult,
    approved_templates,
    decision_document,
    iso,
)

router = APIRouter(prefix="/v1", tags=["sending"])
_T = TypeVar("_T")

FreeFormType = Literal[
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=PRINTABLE,
        description="Repeat a request with the same key and body: it is answered, not sent again.",
    ),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
ParameterValue = Annotated[str, StringConstraints(max_length=1024)]
ParameterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Language = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$", max_length=16),
    Field(description="The template's language code, e.g. en_US."),
]

# --------------------------------------------------------------------------- requests


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=PRINTABLE)]
    language: Language | None = Field(
        default=None, description="Any language the template exists in, when left out."
    )
    parameters: list[ParameterValue] | dict[ParameterName, ParameterValue] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "The body parameters: a list for {{1}}…{{n}}, an object for named ones. "
            "Exactly the template's."
        ),
    )
    components: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=10,
        description="Other components (header, buttons), sent to WhatsApp as given.",
    )

    def message(self) -> TemplateMessage:
        parameters = (
            dict(self.parameters) if isinstance(self.parameters, dict) else tuple(self.parameters)
        )
        return TemplateMessage(self.name, self.language, parameters, tuple(self.components))


class SendMessageIn(BaseModel):
    """One message to one user. Name the recipient by exactly one of ``to``,
    ``contact_id``, ``bsuid``; give ``text``, or ``type`` with ``content``, or
    ``template``; add ``fallback_template`` to a free-form message for a smart send."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone_number_id": "106540352242922",
                    "to": "+1 650 555 1234",
                    "text": "Your order is on its way.",
                    "fallback_template": {
                        "name": "order_update",
                        "language": "en_US",
                        "parameters": ["Sheena", "A-1234"],
                    },
                }
            ]
        },
    )

    phone_number_id: Id
    to: Phone | None = None
    contact_id: Id | None = None
    bsuid: Bsuid | None = None
    text: Text | None = Field(default=None, description="A text message (type text).")
    type: FreeFormType | None = Field(
        default=None, description="A free-form message type; its object goes in content."
    )
    content: dict[str, Any] | None = Field(
        default=None,
        description='The Cloud API object of that type, e.g. {"link": "https://…"} for image.',
    )
    template: TemplateIn | None = None
    fallback_template: TemplateIn | None = Field(
        default=None, description="Sent instead of the free-form message when the window is closed."
    )
    reply_to: Id | None = Field(default=None, description="The wamid this message answers.")

    def recipient(self) -> Recipient:
        return Recipient(phone=self.to, bsuid=self.bsuid, contact_id=self.contact_id)

    def free_form(self) -> FreeForm | None:
        if self.text is not None:
            return FreeForm("text", {"body": self.text})
        if self.type is not None:
            return FreeForm(self.type, self.content or {})
        return None

    def outgoing(self) -> Outgoing:
        return Outgoing(
            self.phone_number_id,
            self.recipient(),
            free_form=self.free_form(),
            template=self.template.message() if self.template else None,
            fallback_template=self.fallback_template.message() if self.fallback_template else None,
            reply_to=self.reply_to,
        )


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number_id: Id | None = Field(
        default=None, description="Needed only when the contact has threads with several lines."
    )
    text: Text


# --------------------------------------------------------------------------- answers


class BillingEstimateOut(BaseModel):
    """The billing to expect if the message is delivered now, and its price on your card."""

    model: str = Field(description="CBP or PMP.")
    category: str
    type: str = Field(description="regular, free_customer_service or free_entry_point.")
    billable: bool
    era: str | None
    market: str | None = Field(description="The recipient's country, if known.")
    price: str | None = Field(description="Decimal; 0 when free, null without a rate.")
    currency: str | None


class WindowOut(BaseModel):
    open: bool
    last_inbound_at: datetime | None
    expires_at: datetime | None


class ChosenTemplateOut(BaseModel):
    name: str
    language: str
    category: str | None


class DecisionOut(BaseModel):
    allowed: bool
    reason: str = Field(
        description=(
            "window_open, template_ok, fallback_template; or why not: window_closed, "
            "template_not_found, template_not_approved, template_language_mismatch, "
            "template_params_mismatch"
        )
    )
    detail: str | None
    used: Literal["free_form", "template"] | None = Field(description="What goes (or went).")
    template: ChosenTemplateOut | None
    category: str | None
    expected_billing: BillingEstimateOut | None
    window: WindowOut
    at: datetime = Field(description="The time of the decision.")


class ApprovedTemplateOut(BaseModel):
    id: str | None
    name: str
    language: str
    category: str | None
    body: str | None
    param_count: int
    param_names: list[str]


class DryRunOut(BaseModel):
    dry_run: Literal[True] = True
    phone_number_id: str
    contact_id: str | None = Field(description="Null when nobody known has this number yet.")
    recipient: str = Field(description="The WhatsApp id (phone digits) or BSUID it would go to.")
    decision: DecisionOut
    templates: list[ApprovedTemplateOut] = Field(
        description="When free-form is refused: the line's templates that may be sent."
    )


class SendOut(BaseModel):
    id: str = Field(description="The send's id.")
    state: Literal["accepted"]
    message_id: str = Field(description="The wamid; GET /v1/messages/{id} shows its statuses.")
    phone_number_id: str
    contact_id: str | None
    recipient: str
    source: str = Field(description="api or reply.")
    decision: DecisionOut
    whatsapp_response: dict[str, Any] = Field(description="WhatsApp's answer, as it came.")
    created_at: datetime


# --------------------------------------------------------------------------- routes

_SEND_ERRORS = problem_responses(400, 401, 403, 404, 409, 422, 429, 502, 504)


@router.post(
    "/messages",
    response_model=SendOut | DryRunOut,
    summary="Send a message through the gate (or ask the gate with dry_run=true)",
    responses=_SEND_ERRORS,
)
async def send_message(
    svc: ServicesDep,
    tenant_id: TenantDep,
    request: SendMessageIn,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    dry_run: Annotated[
        bool, Query(description="Decide and price, but send nothing and store nothing.")
    ] = False,
) -> SendOut | DryRunOut:
    check_message(request)
    sender, now = svc.sender(), svc.clock()
    outgoing = request.outgoing()
    if dry_run:
        quote = await run_in_threadpool(
            _guarded, lambda: sender.quote(tenant_id, outgoing, now), outgoing
        )
        return dry_run_out(quote)
    hashed = request_hash({"endpoint": "messages", "body": request.model_dump(mode="json")})
    result = await run_in_threadpool(
        _guarded,
        lambda: sender.send(tenant_id, outgoing, now, SendSource.API, idempotency_key, hashed),
        outgoing,
    )
    return send_out(result, response)


@router.post(
    "/contacts/{contact_id}/reply",
    response_model=SendOut,
    summary="Reply to a contact with a text, inside the service window only",
    responses=_SEND_ERRORS,
)
async def reply(
    svc: ServicesDep,
    tenant_id: TenantDep,
    contact_id: Annotated[str, Path(max_length=64, pattern=PRINTABLE)],
    request: ReplyIn,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SendOut:
    """Channel360's reply: free-form text while the 24-hour window is open (403
    ``window_closed`` otherwise). The line is the one the contact has a thread with."""
    sender, now = svc.sender(), svc.clock()
    body = {"contact_id": contact_id, **request.model_dump(mode="json")}
    hashed = request_hash({"endpoint": "reply", "body": body})
    result = await run_in_threadpool(
        _guarded,
        lambda: sender.reply(
            tenant_id,
            contact_id,
            request.phone_number_id,
            request.text,
            now,
            idempotency_key,
            hashed,
        ),
        None,
        "path.contact_id",
    )
    return send_out(result, response)


# --------------------------------------------------------------------------- checks


def check_message(request: SendMessageIn) -> None:
    """Exactly one recipient and one message; a fallback only behind a free-form message."""
    recipients = {"to": request.to, "contact_id": request.contact_id, "bsuid": request.bsuid}
    _exactly_one(recipients, "a recipient")
    kinds = {"text": request.text, "type": request.type, "template": request.template}
    _exactly_one(kinds, "a message")
    if request.type is not None and not request.content:
        raise _invalid("body.content", f"a {request.type} message needs its content object")
    if request.content is not None and request.type is None:
        raise _invalid("body.type", "content needs the type it is the object of")
    if request.fallback_template is not None and request.template is not None:
        raise _invalid(
            "body.fallback_template", "a fallback template goes with a free-form message"
        )


def _exactly_one(given: Mapping[str, object], what: str) -> None:
    present = [name for name, value in given.items() if value is not None]
    if len(present) == 1:
        return
    message = f"give exactly one of {', '.join(given)} ({what})"
    names = present or list(given)
    raise Problem(
        422,
        "validation_error",
        "Invalid request",
        f"{message}; got {', '.join(present) or 'none'}",
        errors=[FieldError(field=f"body.{name}", message=message) for name in names],
    )


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "validation_error", "Invalid request", message, field=field)


# --------------------------------------------------------------------------- errors


def _guarded(
    call: Callable[[], _T], outgoing: Outgoing | None, contact_field: str = "body.contact_id"
) -> _T:
    """Run a send use case; its refusals become problem documents. ``outgoing`` is the
    request (``None`` for a reply); ``contact_field`` is where the contact id came from."""
    try:
        return call()
    except NotFound as error:
        field = contact_field if error.what == "contact_id" else f"body.{error.what}"
        raise not_found(error, field) from None
    except RecipientProblem as error:
        raise Problem(
            422,
            "validation_error",
            "Invalid request",
            error.message,
            field=f"body.{error.field}",
            lines=list(error.lines),
        ) from None
    except LineCannotSend as error:
        raise Problem(
            409,
            "line_without_access_token",
            "The line cannot send",
            f"line {error.line} has no access token: add one with "
            "`wawindow line add … --access-token`",
            field="body.phone_number_id",
        ) from None
    except SendDenied as error:
        raise denied(error.quote, outgoing) from None
    except IdempotencyKeyReused as error:
        raise Problem(
            422,
            "idempotency_key_reused",
            "Idempotency key used for another request",
            f"the key {error.key!r} was first used for a different request (send "
            f"{error.record.id}); use a new key for a new request",
            field="header.Idempotency-Key",
            send_id=error.record.id,
        ) from None
    except SendInProgress as error:
        raise Problem(
            409,
            "send_in_progress",
            "The first request with this key is still being sent",
            "ask again in a few seconds to get its answer",
            headers={"Retry-After": "2"},
            send_id=error.record.id,
        ) from None


def denied(quote: Quote, outgoing: Outgoing | None) -> Problem:
    """The problem for a send the gate refused."""
    decision = quote.decision
    if decision.reason == Reason.WINDOW_CLOSED:
        field = (
            "body.text"
            if outgoing is None or outgoing.free_form is None
            else _free_form_field(outgoing)
        )
        return Problem(
            403,
            "window_closed",
            "The customer service window is closed",
            f"{decision.detail}: only a template may be sent now",
            field=field,
            last_inbound_at=iso(decision.last_inbound_at),
            expired_at=iso(decision.expired_at),
            templates=approved_templates(quote),
        )
    return _template_problem(quote, outgoing)


def _free_form_field(outgoing: Outgoing | None) -> str:
    free_form = outgoing.free_form if outgoing is not None else None
    return "body.type" if free_form is not None and free_form.type != "text" else "body.text"


_TEMPLATE_STATUS = {
    TemplateProblemCode.NOT_FOUND: (422, "Template not found", "name"),
    TemplateProblemCode.NOT_APPROVED: (403, "Template not approved", "name"),
    TemplateProblemCode.LANGUAGE_MISMATCH: (422, "Template language mismatch", "language"),
    TemplateProblemCode.PARAMS_MISMATCH: (422, "Template parameters mismatch", "parameters"),
}


def _template_problem(quote: Quote, outgoing: Outgoing | None) -> Problem:
    decision = quote.decision
    which = "template"
    template = outgoing.template if outgoing is not None else None
    if outgoing is not None and outgoing.free_form is not None:
        which, template = "fallback_template", outgoing.fallback_template
    code = TemplateProblemCode(decision.reason)
    status, title, part = _TEMPLATE_STATUS[code]
    extra: dict[str, Any] = {}
    if template is not None:
        found = check_template_send_in(
            quote.templates, template.name, template.language, template.parameters
        )
        if found is not None:
            extra = {
                "template_status": found.status,
                "languages": list(found.languages) or None,
                "expected": list(found.expected) or None,
                "given": list(found.given) or None,
            }
    return Problem(
        status,
        code.value,
        title,
        decision.detail,
        field=f"body.{which}.{part}",
        templates=approved_templates(quote),
        **{k: v for k, v in extra.items() if v is not None},
    )


# --------------------------------------------------------------------------- rendering


def dry_run_out(quote: Quote) -> DryRunOut:
    decision = DecisionOut.model_validate(decision_document(quote))
    refused = not quote.decision.allowed
    return DryRunOut(
        phone_number_id=quote.line.id,
        contact_id=quote.contact_id,
        recipient=quote.address.value,
        decision=decision,
        templates=[ApprovedTemplateOut.model_validate(t) for t in approved_templates(quote)]
        if refused
        else [],
    )


def send_out(result: SendResult, response: Response) -> SendOut:
    """An accepted send; any other outcome is the problem it ended with."""
    record = result.record
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if record.state is not SendState.ACCEPTED or record.wamid is None:
        raise outcome_problem(record, result.replayed)
    return SendOut(
        id=record.id,
        state="accepted",
        message_id=record.wamid,
        phone_number_id=record.line,
        contact_id=record.contact_id,
        recipient=record.recipient,
        source=record.source.value,
        decision=DecisionOut.model_validate(record.decision),
        whatsapp_response=record.response or {},
        created_at=record.created_at,
    )


def outcome_problem(record: SendRecord, replayed: bool = False) -> Problem:
    """The problem a failed or unknown send is answered with (the same on every replay)."""
    error = record.error or {}
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    common: dict[str, Any] = {"send_id": record.id, "state": record.state.value}
    kind = error.get("kind")
    if kind == FailureKind.WHATSAPP.value:
        whatsapp = {k: v for k, v in error.items() if k != "kind"}
        status = _whatsapp_status(record)
        title = whatsapp.get("title") or "WhatsApp refused the message"
        detail = whatsapp.get("details") or whatsapp.get("message")
        if status == 429:
            headers["Retry-After"] = "6"
        return Problem(
            status,
            "whatsapp_error",
            str(title),
            detail,
            headers=headers,
            whatsapp_error=whatsapp,
            **common,
        )
    if kind == FailureKind.UNREACHABLE.value:
        return Problem(
            502,
            "whatsapp_unreachable",
            "WhatsApp could not be reached",
            f"no attempt reached WhatsApp; nothing was sent ({error.get('reason')})",
            headers=headers,
            **common,
        )
    return Problem(
        504,
        "send_outcome_unknown",
        "The outcome of the send is unknown",
        "WhatsApp took the request and no answer came; it is not sent again. If it went "
        "out, its statuses will come by webhook (GET /v1/messages).",
        headers=headers,
        reason=error.get("reason"),
        **common,
    )


_RATE_LIMIT_CODES = frozenset({130429, 131056, 4, 80007})
_LINE_NOT_ALLOWED = frozenset({401, 403})  # the line's token or permissions, not the message


def _whatsapp_status(record: SendRecord) -> int:
    """400 when WhatsApp refused the message itself, 429 for rate limits, else 502.

    WhatsApp refuses a message with a 4xx: 400 mostly, 404 for a template it does
    not have (132001). A 401 or 403 is about the line's access, which the caller
    cannot fix by changing the message.
    """
    error = record.error or {}
    status = record.response_status
    if status == 429 or error.get("code") in _RATE_LIMIT_CODES:
        return 429
    if status is not None and 400 <= status < 500 and status not in _LINE_NOT_ALLOWED:
        return 400
    return 502
