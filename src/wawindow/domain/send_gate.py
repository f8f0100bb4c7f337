"""May this be sent now? The send gate ``decide`` (DESIGN 1.8).

Free-form messages only while the service window is open at ``at + send_margin``
(so a send never races the window's end); templates at any time, if they exist
for the line, are approved, match the language and get exactly their
parameters. A request may carry a free-form message and a ``fallback_template``:
the gate picks the free-form message when it may go, else the template, and
says which. Every decision carries the billing to expect if it is delivered now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from wawindow.domain.categories import Category, normalise_category
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import (
    Billing,
    Model,
    PricingContext,
    era_at,
    estimate_cbp,
    estimate_pmp,
)
from wawindow.domain.settlement import apply_free_tier
from wawindow.domain.templates import (
    Template,
    check_template_send_in,
    find_template,
    is_sendable_status,
)
from wawindow.domain.thread import ThreadState


class Reason(StrEnum):
    WINDOW_OPEN = "window_open"
    WINDOW_CLOSED = "window_closed"
    TEMPLATE_OK = "template_ok"
    FALLBACK_TEMPLATE = "fallback_template"
    NOTHING_TO_SEND = "nothing_to_send"


@dataclass(frozen=True, slots=True)
class TemplateSend:
    name: str
    language: str | None = None
    parameters: Sequence[str] | Mapping[str, str] = ()


@dataclass(frozen=True, slots=True)
class SendRequest:
    free_form_type: str | None = None  # "text", "image", … when there is a free-form message
    template: TemplateSend | None = None
    fallback_template: TemplateSend | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    used: str | None = None  # "free_form" or "template"
    template: Template | None = None
    category: str | None = None
    expected_billing: Billing | None = None
    last_inbound_at: datetime | None = None
    expired_at: datetime | None = None
    approved_templates: tuple[Template, ...] = ()
    detail: str = ""


def decide(
    state: ThreadState,
    request: SendRequest,
    templates: Sequence[Template],
    at: datetime,
    policy: Policy,
    service_delivered_this_month: int = 0,
) -> Decision:
    """Allow or deny one send at ``at``, with the reason and the expected billing."""
    window = state.window
    if request.free_form_type is not None:
        if window.is_open(at + policy.send_margin):
            billing = expected_billing(
                state, Category.SERVICE, at, policy, service_delivered_this_month
            )
            return Decision(True, Reason.WINDOW_OPEN, "free_form", None, Category.SERVICE, billing)
        if request.fallback_template is None:
            return _window_closed(state, templates)
        return _template_decision(
            state, request.fallback_template, templates, at, policy, Reason.FALLBACK_TEMPLATE
        )
    if request.template is not None:
        return _template_decision(
            state, request.template, templates, at, policy, Reason.TEMPLATE_OK
        )
    return Decision(False, Reason.NOTHING_TO_SEND, detail="neither a message nor a template")


def _window_closed(state: ThreadState, templates: Sequence[Template]) -> Decision:
    window = state.window
    detail = (
        "no message from this user yet"
        if window.last_inbound_at is None
        else "the 24-hour customer service window is closed"
    )
    return Decision(
        False,
        Reason.WINDOW_CLOSED,
        last_inbound_at=window.last_inbound_at,
        expired_at=window.ends_at,
        approved_templates=approved(templates),
        detail=detail,
    )


def _template_decision(
    state: ThreadState,
    send: TemplateSend,
    templates: Sequence[Template],
    at: datetime,
    policy: Policy,
    reason: Reason,
) -> Decision:
    template = find_template(templates, send.name, send.language)
    problem = check_template_send_in(templates, send.name, send.language, send.parameters)
    if problem is not None or template is None:
        code = problem.code if problem is not None else "template_not_found"
        message = problem.message if problem is not None else f"no template {send.name!r}"
        return Decision(False, code, approved_templates=approved(templates), detail=message)
    category = normalise_category(template.category)
    billing = expected_billing(state, category, at, policy) if category else None
    return Decision(True, reason, "template", template, category, billing)


def approved(templates: Sequence[Template]) -> tuple[Template, ...]:
    """The templates a caller may pick from, in a stable order."""
    usable = (t for t in templates if is_sendable_status(t.status))
    return tuple(sorted(usable, key=lambda t: (t.name, t.language)))


def expected_billing(
    state: ThreadState,
    category: str,
    at: datetime,
    policy: Policy,
    service_delivered_this_month: int = 0,
) -> Billing | None:
    """What the message would cost if delivered at ``at``, by the era in force then."""
    era = era_at(at, policy.timezone)
    if era is None:
        return None
    # This very message may be the reply that opens a free entry point (and is in it).
    entry_point = state.entry_point.on_business_message(at)
    context = PricingContext(state.window.is_open(at), entry_point.is_open(at))
    if era.model is Model.CBP:
        billing, _ = estimate_cbp(era, category, context, state.cbp, at)
        return billing
    billing = estimate_pmp(era, category, context)
    allowance = era.free_service_messages_per_month
    if billing.counts_toward_free_tier and allowance is not None:
        return apply_free_tier(billing, service_delivered_this_month >= allowance)
    return billing
