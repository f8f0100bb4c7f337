"""Contacts: store the tenant's own reference against a WhatsApp user, find it again.

``POST /v1/contacts`` upserts by any identifier (Channel360's "store the
destination number against your internal reference"); ``GET /v1/contacts/{id}``
and ``GET /v1/contacts?phone=|bsuid=|username=|external_ref=|provider_id=`` find
it. Every answer lists the contact's identifiers and its threads with the
business lines, each with its service window as of the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.contact_store import SqlContactStore
from wawindow.adapters.markets import InvalidPhoneNumber, normalise_phone
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import FieldError, Problem, problem_responses
from wawindow.service.contacts import (
    ContactChange,
    ContactConflict,
    ContactDetails,
    NotFound,
    UpsertResult,
    find_contacts,
    get_contact,
    upsert_contact,
)

router = APIRouter(prefix="/v1", tags=["contacts"])

# --------------------------------------------------------------------------- input types


def _wa_id(value: str) -> str:
    """Any written phone number → the WhatsApp id (E.164 digits, no ``+``)."""
    try:
        return normalise_phone(value).removeprefix("+")
    except InvalidPhoneNumber as error:
        # The message starts with the value itself; problem documents never echo input.
        message, shown = str(error), repr(value.strip())
        reason = message[len(shown) :].strip() if message.startswith(shown) else message
        raise PydanticCustomError(
            "phone_number",
            "Invalid phone number: it {reason}; give it in E.164 (+27821234567) "
            "or as international digits (27821234567)",
            {"reason": reason},
        ) from None


def _provider_id(value: str) -> str:
    provider, _, own_id = value.partition(":")
    return f"{provider.lower()}:{own_id}"


PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""No control characters (PostgreSQL refuses NUL in text; none belongs in an id or a name)."""
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE),
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE)]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_wa_id),
    Field(description="A phone number in any format; stored as its WhatsApp id (E.164 digits)."),
]
Bsuid = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=200, pattern=r"^[A-Za-z]{2}\.[A-Za-z0-9]+$"
    ),
    Field(description="Business-scoped user id, e.g. US.13491208655302741918."),
]
Username = Annotated[Text, Field(description="The user's WhatsApp username (when they have one).")]
ProviderId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.-]+:[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$",
    ),
    AfterValidator(_provider_id),
    Field(description='A reseller\'s id as "provider:id", e.g. "channel360:5f1c0a…".'),
]
ExternalRef = Annotated[
    Text, Field(description="The tenant's own id for this person, e.g. customer_12345.")
]

IDENTIFIER_FIELDS = ("phone", "bsuid", "username", "provider_id", "external_ref")
_KINDS = {
    "phone": IdentifierKind.WA_ID,
    "bsuid": IdentifierKind.BSUID,
    "username": IdentifierKind.USERNAME,
    "provider_id": IdentifierKind.PROVIDER,
    "external_ref": IdentifierKind.EXTERNAL_REF,
}


def identifier(field: str, value: str) -> Identifier:
    """A validated API field (``phone``, ``bsuid``…) as the identifier it stands for."""
    return Identifier(_KINDS[field], value)


def one_of(location: str, given: dict[str, str | None]) -> tuple[str, str]:
    """The one field of ``given`` that has a value; a 422 naming the fields otherwise."""
    present = [(name, value) for name, value in given.items() if value is not None]
    if len(present) == 1:
        return present[0]
    if not present:
        raise none_given(location, list(given), exactly=True)
    message = f"give only one of {', '.join(given)}"
    raise Problem(
        422,
        "validation_error",
        "Invalid request",
        f"{message} (got {len(present)}: {', '.join(name for name, _ in present)})",
        errors=[FieldError(field=f"{location}.{name}", message=message) for name, _ in present],
    )


def none_given(location: str, fields: list[str], *, exactly: bool) -> Problem:
    """A 422 naming every one of ``fields``, when none of them was given."""
    message = f"give {'exactly' if exactly else 'at least'} one of {', '.join(fields)}"
    return Problem(
        422,
        "validation_error",
        "Invalid request",
        f"{message} (got none)",
        errors=[FieldError(field=f"{location}.{name}", message=message) for name in fields],
    )


# --------------------------------------------------------------------------- models


class ContactIn(BaseModel):
    """Identifiers to link to one contact (at least one), and details to set on it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"phone": "+27 82 123 4567", "external_ref": "customer_12345"}
        },
    )

    phone: Phone | None = None
    bsuid: Bsuid | None = None
    username: Username | None = None
    provider_id: ProviderId | None = None
    external_ref: ExternalRef | None = Field(
        default=None, description="Sets (replaces) the tenant's reference for this contact."
    )
    name: Text | None = Field(default=None, description="The contact's name.")


class ContactIdentifierOut(BaseModel):
    kind: str = Field(description="wa_id, bsuid, parent_bsuid, username, provider, external_ref")
    value: str


class ContactThreadOut(BaseModel):
    """The contact's thread with one business line, its service window as of the request."""

    phone_number_id: str
    last_inbound_at: datetime | None
    window_open: bool
    window_expires_at: datetime | None


class ContactOut(BaseModel):
    id: str
    name: str | None
    external_ref: str | None
    phone: str | None = Field(description="E.164, from the contact's WhatsApp id")
    bsuid: str | None
    username: str | None
    created_at: datetime
    identifiers: list[ContactIdentifierOut]
    threads: list[ContactThreadOut]


class ContactList(BaseModel):
    items: list[ContactOut]


def contact_out(contact: ContactDetails) -> ContactOut:
    wa_id = contact.first(IdentifierKind.WA_ID)
    return ContactOut(
        id=contact.id,
        name=contact.name,
        external_ref=contact.external_ref,
        phone=None if wa_id is None else f"+{wa_id}",
        bsuid=contact.first(IdentifierKind.BSUID),
        username=contact.first(IdentifierKind.USERNAME),
        created_at=contact.created_at,
        identifiers=[ContactIdentifierOut(kind=i.kind, value=i.value) for i in contact.identifiers],
        threads=[
            ContactThreadOut(
                phone_number_id=thread.line,
                last_inbound_at=thread.last_inbound_at,
                window_open=thread.window_open,
                window_expires_at=thread.window_expires_at,
            )
            for thread in contact.threads
        ],
    )


def _conflict(error: ContactConflict) -> Problem:
    owners = [
        {"id": owner, "identifiers": [{"kind": i.kind, "value": i.value} for i in identifiers]}
        for owner, identifiers in error.owners.items()
    ]
    return Problem(
        409,
        "contact_conflict",
        "Identifiers of different contacts",
        "the identifiers given belong to different contacts: "
        + ", ".join(error.owners)
        + "; contacts are merged only when WhatsApp names the identifiers together",
        contacts=owners,
    )


# --------------------------------------------------------------------------- routes


@router.post(
    "/contacts",
    response_model=ContactOut,
    summary="Create or update a contact by any of its identifiers",
    responses={
        201: {"model": ContactOut, "description": "A new contact was created"},
        **problem_responses(401, 409, 422),
    },
)
async def upsert(
    svc: ServicesDep, tenant_id: TenantDep, body: ContactIn, response: Response
) -> ContactOut:
    """Links every identifier given to one contact, creating it when none is known (201),
    and sets ``external_ref`` and ``name``. Identifiers that belong to two different
    contacts are a 409: the API never merges contacts."""
    given = {name: getattr(body, name) for name in IDENTIFIER_FIELDS}
    ids = frozenset(identifier(name, value) for name, value in given.items() if value)
    if not ids:
        raise none_given("body", list(IDENTIFIER_FIELDS), exactly=False)
    change = ContactChange(ids, body.name, body.external_ref)

    def write() -> UpsertResult:
        with SqlContactStore(svc.engine) as store:
            return upsert_contact(store, tenant_id, change, svc.clock())

    try:
        result = await run_in_threadpool(write)
    except ContactConflict as error:
        raise _conflict(error) from None
    if result.created:
        response.status_code = 201
    return contact_out(result.contact)


@router.get(
    "/contacts",
    response_model=ContactList,
    summary="Find contacts by one identifier",
    responses=problem_responses(401, 422),
)
async def find(
    svc: ServicesDep,
    tenant_id: TenantDep,
    phone: Annotated[Phone | None, Query()] = None,
    bsuid: Annotated[Bsuid | None, Query()] = None,
    username: Annotated[Username | None, Query()] = None,
    external_ref: Annotated[ExternalRef | None, Query()] = None,
    provider_id: Annotated[ProviderId | None, Query()] = None,
) -> ContactList:
    """Exactly one filter; the answer is a list (empty when nobody matches)."""
    given = {
        "phone": phone,
        "bsuid": bsuid,
        "username": username,
        "external_ref": external_ref,
        "provider_id": provider_id,
    }
    wanted = identifier(*one_of("query", given))

    def read() -> list[ContactDetails]:
        with SqlContactStore.reading(svc.engine) as store:
            return find_contacts(store, tenant_id, wanted, svc.clock())

    return ContactList(items=[contact_out(c) for c in await run_in_threadpool(read)])


@router.get(
    "/contacts/{contact_id}",
    response_model=ContactOut,
    summary="One contact (a merged-away id gives the surviving contact)",
    responses=problem_responses(401, 404, 422),
)
async def one(
    svc: ServicesDep,
    tenant_id: TenantDep,
    contact_id: Annotated[Id, Path()],
) -> ContactOut:
    def read() -> ContactDetails:
        with SqlContactStore.reading(svc.engine) as store:
            return get_contact(store, tenant_id, contact_id, svc.clock())

    try:
        return contact_out(await run_in_threadpool(read))
    except NotFound as error:
        raise not_found(error, "path.contact_id") from None


def not_found(error: NotFound, field: str, **extra: Any) -> Problem:
    return Problem(404, "not_found", "Not found", error.message, field=field, **extra)
