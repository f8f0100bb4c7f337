"""``/v1/templates``: each line's message templates, kept current by template webhooks.

Templates are keyed per line by name and language. ``param_count`` (and
``param_names`` for named parameters) are always counted from the body, never
given. A line or template of another tenant is a 404, as one that doesn't exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, TypeVar

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.template_store import SqlTemplateStore
from wawindow.bootstrap import Services
from wawindow.domain.categories import normalise_category
from wawindow.domain.templates import (
    UNKNOWN_STATUS,
    Template,
    TemplateStatus,
    is_sendable_status,
    normalise_status,
)
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import Problem, problem_responses
from wawindow.service.templates_registry import (
    LineNotFound,
    StoredTemplate,
    TemplateEdit,
    TemplateExists,
    TemplateFilter,
    TemplateNotFound,
    TemplateRegistryError,
    create_template,
    get_template,
    list_templates,
    update_template,
)

router = APIRouter(prefix="/v1", tags=["templates"])

T = TypeVar("T")


class TemplateStatusIn(StrEnum):
    """The statuses a template can be given (``LOCKED``/``UNLOCKED`` are edit events)."""

    APPROVED = TemplateStatus.APPROVED
    PENDING = TemplateStatus.PENDING
    REJECTED = TemplateStatus.REJECTED
    PAUSED = TemplateStatus.PAUSED
    DISABLED = TemplateStatus.DISABLED
    IN_APPEAL = TemplateStatus.IN_APPEAL
    PENDING_DELETION = TemplateStatus.PENDING_DELETION
    DELETED = TemplateStatus.DELETED
    LIMIT_EXCEEDED = TemplateStatus.LIMIT_EXCEEDED
    FLAGGED = TemplateStatus.FLAGGED
    REINSTATED = TemplateStatus.REINSTATED
    ARCHIVED = TemplateStatus.ARCHIVED
    UNARCHIVED = TemplateStatus.UNARCHIVED


class TemplateStatusFilter(StrEnum):
    """A status to filter by: those a template can be given, and ``UNKNOWN``."""

    APPROVED = TemplateStatusIn.APPROVED
    PENDING = TemplateStatusIn.PENDING
    REJECTED = TemplateStatusIn.REJECTED
    PAUSED = TemplateStatusIn.PAUSED
    DISABLED = TemplateStatusIn.DISABLED
    IN_APPEAL = TemplateStatusIn.IN_APPEAL
    PENDING_DELETION = TemplateStatusIn.PENDING_DELETION
    DELETED = TemplateStatusIn.DELETED
    LIMIT_EXCEEDED = TemplateStatusIn.LIMIT_EXCEEDED
    FLAGGED = TemplateStatusIn.FLAGGED
    REINSTATED = TemplateStatusIn.REINSTATED
    ARCHIVED = TemplateStatusIn.ARCHIVED
    UNARCHIVED = TemplateStatusIn.UNARCHIVED
    UNKNOWN = UNKNOWN_STATUS


class TemplateCategoryIn(StrEnum):
    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"


def _normalised_status(value: object) -> object:
    """``approved``, ``in-appeal`` are read as ``APPROVED``, ``IN_APPEAL``."""
    return normalise_status(value) if isinstance(value, str) else value


def _normalised_category(value: object) -> object:
    return normalise_category(value) if isinstance(value, str) else value


def language_code(value: str) -> str:
    """``en-us`` → ``en_US``: WhatsApp's spelling, so webhooks find the row."""
    code, _, region = value.replace("-", "_").partition("_")
    return f"{code.lower()}_{region.upper()}" if region else code.lower()


def _optional_language(value: str | None) -> str | None:
    return None if value is None else language_code(value)


_LANGUAGE_PATTERN: Final = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,4})?$"

Status = Annotated[TemplateStatusIn, BeforeValidator(_normalised_status)]
Category = Annotated[TemplateCategoryIn, BeforeValidator(_normalised_category)]
Language = Annotated[
    str,
    Field(
        min_length=2,
        max_length=16,
        pattern=_LANGUAGE_PATTERN,
        description="A language code such as `en_US` or `pt_BR` (`en-us` is read as `en_US`).",
        examples=["en_US"],
    ),
    AfterValidator(language_code),
]
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        pattern=r"^[a-z0-9_]+$",
        description="As WhatsApp allows: lower-case letters, digits and underscores.",
        examples=["order_update"],
    ),
]
Body = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description="The BODY text; `{{1}}`… or `{{first_name}}` are its parameters.",
        examples=["Hi {{1}}, your order {{2}} has shipped."],
    ),
]
Line = Annotated[str, Field(min_length=1, max_length=64, examples=["106540352242922"])]


class RegistryTemplate(BaseModel):
    phone_number_id: str
    name: str
    language: str
    category: str | None
    status: str = Field(description="As WhatsApp spells it; `UNKNOWN` when never reported.")
    status_reason: str | None = Field(description="WhatsApp's reason for the last status.")
    quality: str | None = Field(description="The quality score: GREEN, YELLOW, RED…")
    body: str | None
    param_count: int = Field(description="How many body parameters a send must give.")
    param_names: list[str] = Field(description="The names, for named parameters; else empty.")
    template_id: str | None = Field(description="WhatsApp's id of the template, when known.")
    sendable: bool = Field(description="Whether WhatsApp accepts sends under this status.")
    updated_at: datetime = Field(description="The time of the change that last wrote it.")


class TemplatePage(BaseModel):
    items: list[RegistryTemplate]
    total: int
    page: int
    page_size: int


class TemplateCreate(BaseModel):
    phone_number_id: Line
    name: Name
    language: Language
    category: Category
    body: Body
    status: Status = TemplateStatusIn.APPROVED
    template_id: Annotated[
        str | None, Field(pattern=r"^[0-9]{1,64}$", description="WhatsApp's id, if known.")
    ] = None


class TemplateUpdate(BaseModel):
    """The fields to change; those left out (or null) stay as they are."""

    category: Category | None = None
    body: Body | None = None
    status: Status | None = None


def registry_template(row: StoredTemplate) -> RegistryTemplate:
    template = row.template
    return RegistryTemplate(
        phone_number_id=row.line,
        name=template.name,
        language=template.language,
        category=template.category,
        status=template.status,
        status_reason=template.status_reason,
        quality=template.quality,
        body=template.body,
        param_count=template.param_count,
        param_names=list(template.param_names),
        template_id=template.template_id,
        sendable=is_sendable_status(template.status),
        updated_at=row.updated_at,
    )


@router.get(
    "/templates",
    response_model=TemplatePage,
    summary="List the tenant's templates, by line, name and language",
    responses=problem_responses(401, 404, 422),
)
async def templates(
    svc: ServicesDep,
    tenant_id: TenantDep,
    phone_number_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[
        TemplateStatusFilter | None,
        BeforeValidator(_normalised_status),
        Query(description="Any case; `UNKNOWN` for templates known only from webhooks."),
    ] = None,
    name: Annotated[str | None, Query(max_length=512)] = None,
    language: Annotated[
        str | None, Query(pattern=_LANGUAGE_PATTERN), AfterValidator(_optional_language)
    ] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TemplatePage:
    where = TemplateFilter(
        line=phone_number_id,
        status=None if status is None else str(status),
        name=name,
        language=language,
        category=normalise_category(category),
    )
    rows = await run_in_threadpool(_run, svc, lambda store: list_templates(store, tenant_id, where))
    shown = rows[(page - 1) * page_size : page * page_size]
    return TemplatePage(
        items=[registry_template(row) for row in shown],
        total=len(rows),
        page=page,
        page_size=page_size,
    )


@router.post(
    "/templates",
    response_model=RegistryTemplate,
    status_code=201,
    summary="Add a template to a line (param_count is counted from the body)",
    responses=problem_responses(401, 404, 409, 422),
)
async def create(
    svc: ServicesDep, tenant_id: TenantDep, request: TemplateCreate
) -> RegistryTemplate:
    template = Template.of(
        request.name,
        request.language,
        request.body,
        category=str(request.category),
        status=str(request.status),
        template_id=request.template_id,
    )
    line = request.phone_number_id
    row = await run_in_threadpool(
        _run, svc, lambda store: create_template(store, tenant_id, line, template, svc.clock())
    )
    return registry_template(row)


@router.get(
    "/templates/{phone_number_id}/{name}/{language}",
    response_model=RegistryTemplate,
    summary="One template of a line",
    responses=problem_responses(401, 404, 422),
)
async def template(
    svc: ServicesDep,
    tenant_id: TenantDep,
    phone_number_id: Annotated[str, Path(max_length=64)],
    name: Annotated[str, Path(max_length=512)],
    language: Annotated[str, Path(max_length=16)],
) -> RegistryTemplate:
    row = await run_in_threadpool(
        _run, svc, lambda store: get_template(store, tenant_id, phone_number_id, name, language)
    )
    return registry_template(row)


@router.patch(
    "/templates/{phone_number_id}/{name}/{language}",
    response_model=RegistryTemplate,
    summary="Change a template's category, body or status",
    responses=problem_responses(401, 404, 422),
)
async def update(
    svc: ServicesDep,
    tenant_id: TenantDep,
    phone_number_id: Annotated[str, Path(max_length=64)],
    name: Annotated[str, Path(max_length=512)],
    language: Annotated[str, Path(max_length=16)],
    request: TemplateUpdate,
) -> RegistryTemplate:
    edit = TemplateEdit(
        category=None if request.category is None else str(request.category),
        body=request.body,
        status=None if request.status is None else str(request.status),
    )

    def run(store: SqlTemplateStore) -> StoredTemplate:
        at = svc.clock()
        return update_template(store, tenant_id, phone_number_id, name, language, edit, at)

    return registry_template(await run_in_threadpool(_run, svc, run))


def _run(svc: Services, use: Callable[[SqlTemplateStore], T]) -> T:
    """``use`` in one transaction; registry errors become problem documents."""
    try:
        with SqlTemplateStore(svc.engine) as store:
            return use(store)
    except (LineNotFound, TemplateNotFound) as error:
        raise _problem(404, "not_found", "Not found", error) from error
    except TemplateExists as error:
        raise _problem(409, "template_exists", "Template exists", error) from error


def _problem(status: int, slug: str, title: str, error: TemplateRegistryError) -> Problem:
    return Problem(status, slug, title, str(error), field=error.field)
