"""Settlement (DESIGN 1.7): the estimate, the monthly free tier, and the provider's word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from wawindow.domain.drift import DriftKind
from wawindow.domain.facts import OutboundMessage, ProviderPricing, StatusUpdate, TemplateRef
from wawindow.domain.identity import Identity
from wawindow.domain.messages import MessageRecord, merge_fact
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import Billing, BillingType, Model, Source
from wawindow.domain.settlement import (
    TierCandidate,
    apply_free_tier,
    beyond_free_tier,
    from_provider,
    settle,
)

LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
SENT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
DELIVERED = SENT + timedelta(seconds=5)

UTILITY_FREE = Billing(Model.PMP, "utility", BillingType.FREE_CUSTOMER_SERVICE, False, era="PMP-1")
UTILITY_PAID = Billing(Model.PMP, "utility", BillingType.REGULAR, True, era="PMP-1")


def delivered(pricing: ProviderPricing | None = None, status: str = "delivered") -> MessageRecord:
    send = OutboundMessage(LINE, "out1", SENT, USER, "template", TemplateRef("bill"), "utility")
    return merge_fact(
        merge_fact(None, send), StatusUpdate(LINE, "out1", status, DELIVERED, USER, pricing=pricing)
    )


def test_no_billing_before_delivery() -> None:
    sent_only = delivered(ProviderPricing(True, "PMP", "utility", "regular"), status="sent")
    assert settle(sent_only, UTILITY_PAID) == (None, None)


def test_read_without_delivered_is_billed() -> None:
    billing, drift = settle(delivered(status="read"), UTILITY_FREE)
    assert billing == UTILITY_FREE
    assert drift is None


def test_the_estimate_stands_until_the_provider_reports() -> None:
    billing, drift = settle(delivered(), UTILITY_FREE)
    assert billing == UTILITY_FREE
    assert billing is not None
    assert billing.source is Source.ESTIMATED
    assert drift is None


def test_no_estimate_and_no_pricing_is_no_billing() -> None:
    assert settle(delivered(), None) == (None, None)


def test_provider_pricing_replaces_an_agreeing_estimate_without_drift() -> None:
    pricing = ProviderPricing(False, "pmp", "UTILITY", "free_customer_service")
    billing, drift = settle(delivered(pricing), UTILITY_FREE)
    assert drift is None
    assert billing == Billing(
        "PMP", "utility", "free_customer_service", False, Source.PROVIDER, era="PMP-1"
    )


def test_drift_when_the_provider_bills_what_we_thought_free() -> None:
    pricing = ProviderPricing(True, "PMP", "utility", "regular")
    billing, drift = settle(delivered(pricing), UTILITY_FREE)
    assert billing is not None
    assert (billing.billable, billing.source) == (True, Source.PROVIDER)
    assert drift is not None
    assert drift.kind is DriftKind.BILLING
    assert drift.message_id == "out1"
    assert drift.at == DELIVERED
    assert drift.computed == "PMP utility free_customer_service free"
    assert drift.provider == "PMP utility regular billable"


def test_drift_when_the_category_family_differs() -> None:
    pricing = ProviderPricing(True, "PMP", "marketing", "regular")
    _, drift = settle(delivered(pricing), UTILITY_PAID)
    assert drift is not None


def test_no_drift_within_one_category_family() -> None:
    estimate = Billing(Model.PMP, "marketing", BillingType.REGULAR, True, era="PMP-1")
    pricing = ProviderPricing(True, "PMP", "marketing_lite", "regular")
    billing, drift = settle(delivered(pricing), estimate)
    assert drift is None
    assert billing is not None
    assert billing.category == "marketing_lite"


def test_drift_when_only_the_type_differs() -> None:
    pricing = ProviderPricing(False, "PMP", "utility", "free_entry_point")
    _, drift = settle(delivered(pricing), UTILITY_FREE)
    assert drift is not None
    assert drift.provider == "PMP utility free_entry_point free"


def test_provider_pricing_without_an_estimate_is_shown_without_drift() -> None:
    billing, drift = settle(delivered(ProviderPricing(True, "PMP", "marketing", "regular")), None)
    assert drift is None
    assert billing == Billing("PMP", "marketing", "regular", True, Source.PROVIDER)


def test_provider_fields_left_out_are_taken_from_the_estimate() -> None:
    reported = from_provider(ProviderPricing(), UTILITY_PAID)
    assert (reported.model, reported.category, reported.billable) == ("PMP", "utility", True)
    assert reported.type == BillingType.REGULAR
    assert reported.source is Source.PROVIDER


def test_provider_pricing_with_nothing_known_is_unknown_not_a_crash() -> None:
    reported = from_provider(ProviderPricing(), None)
    assert (reported.model, reported.category, reported.billable) == ("", "unknown", False)


def test_implied_types_when_the_provider_gives_none() -> None:
    referral = from_provider(ProviderPricing(False, "CBP", "referral_conversion"), None)
    service = from_provider(ProviderPricing(False, "CBP", "service"), None)
    paid = from_provider(ProviderPricing(True, "CBP", "utility"), None)
    assert referral.type == BillingType.FREE_ENTRY_POINT
    assert service.type == BillingType.FREE_CUSTOMER_SERVICE
    assert paid.type == BillingType.REGULAR


def test_cbp_in_conversation_message_marked_billable_is_not_charged_twice() -> None:
    # Meta marks every message of a paid CBP conversation billable; the conversation's
    # opener carries the one charge.
    inside = Billing(Model.CBP, "utility", BillingType.REGULAR, False, era="CBP")
    billing, drift = settle(delivered(ProviderPricing(True, "CBP", "utility")), inside)
    assert billing is not None
    assert not billing.billable
    assert drift is None


def test_cbp_opener_marked_billable_is_charged() -> None:
    opener = Billing(Model.CBP, "utility", BillingType.REGULAR, True, era="CBP")
    billing, drift = settle(delivered(ProviderPricing(True, "CBP", "utility")), opener)
    assert billing is not None
    assert billing.billable
    assert drift is None


def test_cbp_opener_the_provider_calls_free_is_drift() -> None:
    opener = Billing(Model.CBP, "utility", BillingType.REGULAR, True, era="CBP")
    _, drift = settle(delivered(ProviderPricing(False, "CBP", "utility")), opener)
    assert drift is not None


# -- the monthly free tier (PMP-2 service messages) --------------------------------------

SERVICE = Billing(
    Model.PMP,
    "service",
    BillingType.FREE_CUSTOMER_SERVICE,
    False,
    era="PMP-2",
    counts_toward_free_tier=True,
)


def test_apply_free_tier_bills_a_service_message_past_the_allowance() -> None:
    assert apply_free_tier(SERVICE, past_allowance=False) == SERVICE
    past = apply_free_tier(SERVICE, past_allowance=True)
    assert (past.type, past.billable) == (BillingType.REGULAR, True)


def test_apply_free_tier_leaves_other_messages_alone() -> None:
    assert apply_free_tier(UTILITY_FREE, past_allowance=True) == UTILITY_FREE


def candidate(message_id: str, delivered_at: datetime, line: str = LINE) -> TierCandidate:
    return TierCandidate(line, delivered_at, message_id, allowance=2)


NOV = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def test_beyond_free_tier_bills_messages_after_the_allowance() -> None:
    found = [candidate(f"m{i}", NOV + timedelta(minutes=i)) for i in range(4)]
    assert beyond_free_tier(found, Policy()) == {"m2", "m3"}


def test_beyond_free_tier_does_not_depend_on_arrival_order() -> None:
    found = [candidate(f"m{i}", NOV + timedelta(minutes=i)) for i in range(4)]
    assert beyond_free_tier(reversed(found), Policy()) == {"m2", "m3"}


def test_beyond_free_tier_breaks_ties_by_message_id() -> None:
    found = [candidate(name, NOV) for name in ("c", "a", "b")]
    assert beyond_free_tier(found, Policy()) == {"c"}


def test_beyond_free_tier_counts_each_line_separately() -> None:
    found = [
        *(candidate(f"a{i}", NOV + timedelta(minutes=i), "line-a") for i in range(3)),
        *(candidate(f"b{i}", NOV + timedelta(minutes=i), "line-b") for i in range(2)),
    ]
    assert beyond_free_tier(found, Policy()) == {"a2"}


def test_beyond_free_tier_starts_again_each_month() -> None:
    found = [
        candidate("oct1", datetime(2026, 10, 31, 23, 0, tzinfo=UTC)),
        candidate("oct2", datetime(2026, 10, 31, 23, 30, tzinfo=UTC)),
        candidate("nov1", datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),
    ]
    assert beyond_free_tier(found, Policy()) == frozenset()


def test_beyond_free_tier_months_turn_in_the_lines_time_zone() -> None:
    # 2026-11-01T01:00Z is still October 31st in São Paulo: three October messages.
    found = [
        candidate("a", datetime(2026, 10, 31, 23, 0, tzinfo=UTC)),
        candidate("b", datetime(2026, 10, 31, 23, 30, tzinfo=UTC)),
        candidate("c", datetime(2026, 11, 1, 1, 0, tzinfo=UTC)),
    ]
    sao_paulo = Policy(timezone=ZoneInfo("America/Sao_Paulo"))
    assert beyond_free_tier(found, sao_paulo) == {"c"}
    assert beyond_free_tier(found, Policy()) == frozenset()


def test_beyond_free_tier_of_nothing_is_nothing() -> None:
    assert beyond_free_tier([], Policy()) == frozenset()
