"""``/v1/settings``: the settings of the API key's tenant that the rules depend on.

Durations are ISO 8601 (``PT30M``, ``PT2H``, ``PT90S``; days, hours, minutes
and whole seconds), in requests and answers alike. ``PATCH`` changes the
settings it names and keeps the others; ``null`` restores a setting's default.
A change re-plans the tenant's pending timed events (see ``docs/scheduler.md``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.settings_store import SqlSettingsStore
from wawindow.domain.durations import DurationError, parse_iso_duration
from wawindow.domain.policy import Policy
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.problems import FieldError, Problem, problem_responses
from wawindow.service.tenant_settings import (
    SettingsChange,
    SettingsError,
    change_settings,
    read_settings,
    settings_document,
)

router = APIRouter(prefix="/v1", tags=["settings"])

_NOT_A_DURATION: Final = (
    "must be an ISO 8601 duration such as PT30M, PT2H or PT90S "
    "(days, hours, minutes and whole seconds)"
)

IsoDuration = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=32),
    Field(examples=["PT30M"]),
]


class SettingsOut(BaseModel):
    inactive_after: str = Field(
        description="A conversation is inactive once its last message is this old.",
        examples=["PT30M"],
    )
    window_expiring_leads: list[str] = Field(
        description="window.expiring fires this long before the service window closes, "
        "once per lead time (longest first).",
        examples=[["PT1H"]],
    )
    lead_unanswered_warning: str = Field(
        description="lead.unanswered_soon fires this long before an ad lead goes unanswered.",
        examples=["PT2H"],
    )
    send_margin: str = Field(
        description="Free-form may be sent only if the window is still open this long after.",
        examples=["PT1M"],
    )


class SettingsPatch(BaseModel):
    """Name only what changes; ``null`` restores the default."""

    model_config = ConfigDict(extra="forbid")

    inactive_after: IsoDuration | None = Field(
        default=None, description="1 minute to 24 hours (default PT30M)."
    )
    window_expiring_leads: Annotated[list[IsoDuration], Field(max_length=20)] | None = Field(
        default=None,
        description="Up to 5 lead times, each 1 minute to under 24 hours (default [PT1H]); "
        "[] turns window.expiring off.",
    )
    lead_unanswered_warning: IsoDuration | None = Field(
        default=None, description="1 minute to under 24 hours (default PT2H)."
    )
    send_margin: IsoDuration | None = Field(
        default=None, description="0 to 10 minutes (default PT1M)."
    )


def _out(policy: Policy) -> SettingsOut:
    return SettingsOut(**settings_document(policy))


@router.get(
    "/settings",
    response_model=SettingsOut,
    summary="The tenant's settings",
    responses=problem_responses(401),
)
async def get_settings(svc: ServicesDep, tenant_id: TenantDep) -> SettingsOut:
    def read() -> Policy:
        with SqlSettingsStore.reading(svc.engine) as store:
            return read_settings(store, tenant_id)

    return _out(await run_in_threadpool(read))


@router.patch(
    "/settings",
    response_model=SettingsOut,
    summary="Change some of the tenant's settings; pending timed events are re-planned",
    responses=problem_responses(401, 422),
)
async def patch_settings(
    svc: ServicesDep, tenant_id: TenantDep, patch: Annotated[SettingsPatch, Body()]
) -> SettingsOut:
    change = _change(patch)

    def write() -> Policy:
        with SqlSettingsStore(svc.engine) as store:
            return change_settings(store, tenant_id, change, svc.clock()).settings

    try:
        return _out(await run_in_threadpool(write))
    except SettingsError as error:
        raise _invalid([(f"body.{name}", message) for name, message in error.problems]) from None


def _change(patch: SettingsPatch) -> SettingsChange:
    given = patch.model_fields_set
    reset = frozenset(name for name in given if getattr(patch, name) is None)
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name in ("inactive_after", "lead_unanswered_warning", "send_margin"):
        text = getattr(patch, name)
        if text is not None:
            values[name] = _duration(text, f"body.{name}", problems)
    if patch.window_expiring_leads is not None:
        leads = [
            _duration(text, f"body.window_expiring_leads.{index}", problems)
            for index, text in enumerate(patch.window_expiring_leads)
        ]
        values["window_expiring_leads"] = tuple(leads)
    if problems:
        raise _invalid(problems)
    return SettingsChange(**values, reset=reset)


def _duration(text: str, field: str, problems: list[tuple[str, str]]) -> timedelta:
    try:
        return parse_iso_duration(text)
    except DurationError:
        # Not the parser's message: a problem document never echoes the input.
        problems.append((field, _NOT_A_DURATION))
        return timedelta(0)


def _invalid(problems: list[tuple[str, str]]) -> Problem:
    fields = ", ".join(field for field, _ in problems)
    noun = "invalid setting" if len(problems) == 1 else "invalid settings"
    return Problem(
        422,
        "validation_error",
        "Invalid request",
        f"{len(problems)} {noun}: {fields}",
        errors=[FieldError(field=field, message=message) for field, message in problems],
    )
