"""The billing a message ends up with: the estimate, the monthly free tier, the provider's word.

What the provider reports (``pricing`` on statuses) replaces the estimate; when
both exist and disagree, a billing drift is recorded. A message that has not
(yet) been delivered has no billing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from wawindow.domain.categories import Category, normalise_category, price_family
from wawindow.domain.drift import Drift, DriftKind
from wawindow.domain.facts import ProviderPricing
from wawindow.domain.messages import MessageRecord
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import Billing, BillingType, Model, Source
from wawindow.domain.times import local_date


@dataclass(frozen=True, slots=True)
class TierCandidate:
    """A delivered PMP-2 service message that the monthly free allowance may cover."""

    line: str
    delivered_at: datetime
    message_id: str
    allowance: int  # free service messages per line per month in the message's era


def beyond_free_tier(candidates: Iterable[TierCandidate], policy: Policy) -> frozenset[str]:
    """Per line and calendar month (line's time zone), the messages past the free allowance.

    Ranked by delivery time then id, so the answer does not depend on arrival order.
    """
    by_month: dict[tuple[str, date], list[TierCandidate]] = {}
    for candidate in candidates:
        day = local_date(candidate.delivered_at, policy.timezone).replace(day=1)
        by_month.setdefault((candidate.line, day), []).append(candidate)
    billable: set[str] = set()
    for month in by_month.values():
        month.sort(key=lambda c: (c.delivered_at, c.message_id))
        billable.update(c.message_id for c in month[month[0].allowance :])
    return frozenset(billable)


def apply_free_tier(estimate: Billing, past_allowance: bool) -> Billing:
    if not estimate.counts_toward_free_tier or not past_allowance:
        return estimate
    return replace(estimate, type=BillingType.REGULAR, billable=True)


def settle(record: MessageRecord, estimate: Billing | None) -> tuple[Billing | None, Drift | None]:
    """The billing to show, and a drift when the provider disagrees with the estimate."""
    delivered_at = record.delivered_at
    if delivered_at is None:
        return None, None
    if record.pricing is None:
        return estimate, None
    reported = from_provider(record.pricing, estimate)
    if estimate is None or _agrees(estimate, reported):
        return reported, None
    drift = Drift(
        DriftKind.BILLING,
        record.message_id,
        delivered_at,
        _describe(estimate),
        _describe(reported),
    )
    return reported, drift


def from_provider(pricing: ProviderPricing, estimate: Billing | None) -> Billing:
    category = normalise_category(pricing.category) or (
        estimate.category if estimate else "unknown"
    )
    model = (pricing.model or (estimate.model if estimate else "")).upper()
    billable = (
        pricing.billable if pricing.billable is not None else bool(estimate and estimate.billable)
    )
    if model == Model.CBP and estimate is not None and estimate.model == Model.CBP:
        # In CBP Meta marks every message of a paid conversation billable; the charge is
        # the conversation, which the estimate puts on the message that opened it.
        billable = billable and estimate.billable
    kind = pricing.type or _implied_type(category, billable)
    era = estimate.era if estimate else None
    return Billing(model, category, kind, billable, Source.PROVIDER, era=era)


def _implied_type(category: str, billable: bool) -> str:
    if category == Category.REFERRAL_CONVERSION:
        return BillingType.FREE_ENTRY_POINT
    if not billable and category == Category.SERVICE:
        return BillingType.FREE_CUSTOMER_SERVICE
    return BillingType.REGULAR


def _agrees(estimate: Billing, reported: Billing) -> bool:
    return (
        estimate.billable == reported.billable
        and price_family(estimate.category) == price_family(reported.category)
        and estimate.type == reported.type
    )


def _describe(billing: Billing) -> str:
    charged = "billable" if billing.billable else "free"
    return f"{billing.model} {billing.category} {billing.type} {charged}"
