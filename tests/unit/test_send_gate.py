"""The send gate (DESIGN 1.8): may this be sent now, why, and what will it cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wawindow.domain.entry_point import EntryPoint
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import BillingType, CbpConversations, Model
from wawindow.domain.send_gate import (
    Reason,
    SendRequest,
    TemplateSend,
    approved,
    decide,
    expected_billing,
)
from wawindow.domain.service_window import ServiceWindow
from wawindow.domain.templates import Template
from wawindow.domain.thread import ThreadState

LINE = "106540352242922"
POLICY = Policy()
INBOUND = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # PMP-1
EXPIRY = INBOUND + timedelta(hours=24)
ORDER_UPDATE = Template.of(
    "order_update", "en_US", "Your order {{1}} ships {{2}}", category="UTILITY"
)
PROMO = Template.of("promo", "en_US", "Hi {{name}}!", category="marketing")
PAUSED = Template.of("old_promo", "en_US", "Sale", category="marketing", status="PAUSED")
REJECTED = Template.of("bad", "en_US", "x", category="marketing", status="REJECTED")
TEMPLATES = (PROMO, ORDER_UPDATE, PAUSED, REJECTED)
FREE_FORM = SendRequest(free_form_type="text")


def state(
    last_inbound_at: datetime | None = INBOUND,
    entry_point: EntryPoint | None = None,
    cbp: CbpConversations | None = None,
) -> ThreadState:
    return ThreadState(
        LINE,
        window=ServiceWindow(last_inbound_at=last_inbound_at),
        entry_point=entry_point or EntryPoint(),
        cbp=cbp or CbpConversations(),
    )


def send_template(name: str, *params: str, language: str | None = "en_US") -> SendRequest:
    return SendRequest(template=TemplateSend(name, language, params))


# -- free-form --------------------------------------------------------------------------


def test_free_form_allowed_while_the_window_is_open_at_at_plus_margin() -> None:
    decision = decide(state(), FREE_FORM, TEMPLATES, EXPIRY - timedelta(seconds=61), POLICY)
    assert decision.allowed
    assert decision.reason == Reason.WINDOW_OPEN
    assert decision.used == "free_form"
    assert decision.category == "service"


def test_free_form_denied_within_the_margin_before_expiry() -> None:
    decision = decide(state(), FREE_FORM, TEMPLATES, EXPIRY - timedelta(seconds=30), POLICY)
    assert not decision.allowed
    assert decision.reason == Reason.WINDOW_CLOSED
    assert decision.used is None
    assert decision.last_inbound_at == INBOUND
    assert decision.expired_at == EXPIRY


def test_free_form_denied_at_exactly_the_margin() -> None:
    decision = decide(state(), FREE_FORM, TEMPLATES, EXPIRY - timedelta(seconds=60), POLICY)
    assert not decision.allowed


def test_send_margin_is_a_tenant_setting() -> None:
    no_margin = Policy(send_margin=timedelta(0))
    at = EXPIRY - timedelta(seconds=30)
    assert decide(state(), FREE_FORM, TEMPLATES, at, no_margin).allowed


def test_denial_lists_the_approved_templates_in_a_stable_order() -> None:
    decision = decide(state(), FREE_FORM, TEMPLATES, EXPIRY + timedelta(hours=1), POLICY)
    assert decision.approved_templates == (ORDER_UPDATE, PROMO)
    listed = decision.approved_templates[0]
    assert (listed.name, listed.language, listed.category) == ("order_update", "en_US", "utility")
    assert listed.param_count == 2


def test_free_form_denied_without_any_inbound() -> None:
    decision = decide(state(None), FREE_FORM, TEMPLATES, INBOUND, POLICY)
    assert decision.reason == Reason.WINDOW_CLOSED
    assert decision.last_inbound_at is None
    assert decision.expired_at is None
    assert "no message" in decision.detail


def test_free_form_denied_after_a_provider_closure_reports_its_time() -> None:
    closed_at = INBOUND + timedelta(hours=2)
    closed = ThreadState(LINE, window=ServiceWindow(INBOUND, closed_at))
    decision = decide(closed, FREE_FORM, TEMPLATES, closed_at + timedelta(minutes=1), POLICY)
    assert not decision.allowed
    assert decision.expired_at == closed_at


# -- templates --------------------------------------------------------------------------


def test_an_approved_template_may_be_sent_any_time() -> None:
    closed = EXPIRY + timedelta(days=3)
    decision = decide(
        state(), send_template("order_update", "A1", "today"), TEMPLATES, closed, POLICY
    )
    assert decision.allowed
    assert decision.reason == Reason.TEMPLATE_OK
    assert decision.used == "template"
    assert decision.template == ORDER_UPDATE
    assert decision.category == "utility"


def test_template_not_found() -> None:
    decision = decide(state(), send_template("nope"), TEMPLATES, INBOUND, POLICY)
    assert not decision.allowed
    assert decision.reason == "template_not_found"
    assert decision.approved_templates == (ORDER_UPDATE, PROMO)


@pytest.mark.parametrize("template", [PAUSED, REJECTED])
def test_template_not_approved(template: Template) -> None:
    decision = decide(state(), send_template(template.name), TEMPLATES, INBOUND, POLICY)
    assert not decision.allowed
    assert decision.reason == "template_not_approved"
    assert template.status.lower() in decision.detail


def test_template_language_mismatch() -> None:
    request = send_template("order_update", "A1", "today", language="pt_BR")
    decision = decide(state(), request, TEMPLATES, INBOUND, POLICY)
    assert not decision.allowed
    assert decision.reason == "template_language_mismatch"
    assert "en_US" in decision.detail


def test_template_language_spelling_does_not_matter() -> None:
    request = send_template("order_update", "A1", "today", language="en-us")
    assert decide(state(), request, TEMPLATES, INBOUND, POLICY).allowed


@pytest.mark.parametrize("params", [(), ("A1",), ("A1", "today", "extra")])
def test_template_params_mismatch(params: tuple[str, ...]) -> None:
    decision = decide(state(), send_template("order_update", *params), TEMPLATES, INBOUND, POLICY)
    assert not decision.allowed
    assert decision.reason == "template_params_mismatch"


def test_named_parameters_must_match_exactly() -> None:
    ok = SendRequest(template=TemplateSend("promo", "en_US", {"name": "Ana"}))
    wrong = SendRequest(template=TemplateSend("promo", "en_US", {"first": "Ana"}))
    assert decide(state(), ok, TEMPLATES, INBOUND, POLICY).allowed
    assert decide(state(), wrong, TEMPLATES, INBOUND, POLICY).reason == "template_params_mismatch"


def test_a_template_without_category_has_no_expected_billing() -> None:
    bare = Template.of("bare", "en_US", "Hello")
    decision = decide(state(), send_template("bare"), (bare,), INBOUND, POLICY)
    assert decision.allowed
    assert decision.category is None
    assert decision.expected_billing is None


# -- smart send ---------------------------------------------------------------------------


def smart(*params: str) -> SendRequest:
    return SendRequest(
        free_form_type="text", fallback_template=TemplateSend("order_update", "en_US", params)
    )


def test_smart_send_uses_free_form_while_the_window_is_open() -> None:
    decision = decide(state(), smart("A1", "today"), TEMPLATES, INBOUND, POLICY)
    assert decision.allowed
    assert decision.used == "free_form"


def test_smart_send_falls_back_to_the_template_when_closed() -> None:
    decision = decide(state(), smart("A1", "today"), TEMPLATES, EXPIRY, POLICY)
    assert decision.allowed
    assert decision.reason == Reason.FALLBACK_TEMPLATE
    assert decision.used == "template"
    assert decision.template == ORDER_UPDATE


def test_smart_send_with_a_bad_fallback_is_denied_with_the_templates_reason() -> None:
    decision = decide(state(), smart("A1"), TEMPLATES, EXPIRY, POLICY)
    assert not decision.allowed
    assert decision.reason == "template_params_mismatch"


def test_nothing_to_send() -> None:
    decision = decide(state(), SendRequest(), TEMPLATES, INBOUND, POLICY)
    assert not decision.allowed
    assert decision.reason == Reason.NOTHING_TO_SEND


# -- expected billing ---------------------------------------------------------------------


def billing_of(request: SendRequest, at: datetime, thread: ThreadState | None = None) -> object:
    decision = decide(thread or state(at - timedelta(minutes=30)), request, TEMPLATES, at, POLICY)
    assert decision.allowed
    billing = decision.expected_billing
    assert billing is not None
    return (billing.model, billing.type, billing.billable)


def test_utility_inside_the_window_in_pmp1_is_free() -> None:
    at = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    request = send_template("order_update", "A1", "today")
    assert billing_of(request, at) == ("PMP", "free_customer_service", False)


def test_utility_inside_the_window_in_pmp2_is_billable() -> None:
    at = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    request = send_template("order_update", "A1", "today")
    assert billing_of(request, at) == ("PMP", "regular", True)


def test_utility_outside_the_window_in_pmp1_is_billable() -> None:
    at = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    request = send_template("order_update", "A1", "today")
    assert billing_of(request, at, state(None)) == ("PMP", "regular", True)


def test_marketing_inside_an_fep_is_free() -> None:
    at = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    fep = EntryPoint(
        opened_at=at - timedelta(hours=30), computed_expires_at=at + timedelta(hours=42)
    )
    request = SendRequest(template=TemplateSend("promo", "en_US", {"name": "Ana"}))
    assert billing_of(request, at, state(None, entry_point=fep)) == (
        "PMP",
        "free_entry_point",
        False,
    )


def test_service_beyond_the_months_allowance_is_billable_in_pmp2() -> None:
    at = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    thread = state(at - timedelta(minutes=5))
    within = decide(thread, FREE_FORM, TEMPLATES, at, POLICY, service_delivered_this_month=999)
    beyond = decide(thread, FREE_FORM, TEMPLATES, at, POLICY, service_delivered_this_month=1000)
    assert within.expected_billing is not None
    assert beyond.expected_billing is not None
    assert (within.expected_billing.type, within.expected_billing.billable) == (
        BillingType.FREE_CUSTOMER_SERVICE,
        False,
    )
    assert (beyond.expected_billing.type, beyond.expected_billing.billable) == (
        BillingType.REGULAR,
        True,
    )


def test_service_in_pmp1_is_free_however_many_were_sent() -> None:
    at = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    decision = decide(state(), FREE_FORM, TEMPLATES, at, POLICY, service_delivered_this_month=5000)
    assert decision.expected_billing is not None
    assert not decision.expected_billing.billable


def test_cbp_expected_billing_follows_the_open_conversations() -> None:
    at = datetime(2025, 3, 5, 11, 0, tzinfo=UTC)
    thread = state(at - timedelta(hours=1))
    first = expected_billing(thread, "utility", at, POLICY)
    assert first is not None
    assert (first.model, first.billable) == (Model.CBP, True)
    covered = state(
        at - timedelta(hours=1),
        cbp=CbpConversations((("utility", at + timedelta(hours=20)),)),
    )
    inside = expected_billing(covered, "utility", at, POLICY)
    assert inside is not None
    assert not inside.billable


def test_no_expected_billing_before_the_first_era() -> None:
    at = datetime(2024, 10, 31, 12, 0, tzinfo=UTC)
    decision = decide(state(at - timedelta(hours=1)), FREE_FORM, TEMPLATES, at, POLICY)
    assert decision.allowed
    assert decision.expected_billing is None


def test_approved_keeps_only_sendable_templates() -> None:
    flagged = Template.of("warned", "es", "x", category="utility", status="FLAGGED")
    assert approved((*TEMPLATES, flagged)) == (ORDER_UPDATE, PROMO, flagged)


def test_the_reply_that_opens_a_free_entry_point_is_expected_free() -> None:
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    lead = EntryPoint(lead_at=at - timedelta(hours=1), lead_message_id="wamid.ad")
    request = SendRequest(free_form_type="text")
    assert billing_of(request, at, state(at - timedelta(hours=1), entry_point=lead)) == (
        "PMP",
        "free_entry_point",
        False,
    )
    late = EntryPoint(lead_at=at - timedelta(hours=25), lead_message_id="wamid.ad")
    assert billing_of(request, at, state(at - timedelta(hours=1), entry_point=late)) == (
        "PMP",
        "free_customer_service",
        False,
    )
