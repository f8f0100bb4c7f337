"""Pricing eras and the estimated billing of one delivered message (DESIGN 1.7).

Rule sets are data with effective dates (``ERAS``): Meta's next change is a new
row, not a rewrite. Eras turn at 00:00 in the line's time zone. A message is
priced by the era in force when it is *delivered* (that is when WhatsApp
charges).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum

from wawindow.domain.categories import Category, price_family
from wawindow.domain.times import CBP_CONVERSATION, local_date


class Model(StrEnum):
    CBP = "CBP"
    PMP = "PMP"


class BillingType(StrEnum):
    REGULAR = "regular"
    FREE_CUSTOMER_SERVICE = "free_customer_service"
    FREE_ENTRY_POINT = "free_entry_point"


class Source(StrEnum):
    ESTIMATED = "estimated"
    PROVIDER = "provider"


@dataclass(frozen=True, slots=True)
class Era:
    name: str
    model: Model
    starts: date
    ends: date | None  # inclusive last day
    utility_free_in_service_window: bool = True
    free_service_messages_per_month: int | None = None  # None: service always free


ERAS: tuple[Era, ...] = (
    Era("CBP", Model.CBP, date(2024, 11, 1), date(2025, 6, 30)),
    Era("PMP-1", Model.PMP, date(2025, 7, 1), date(2026, 9, 30)),
    Era(
        "PMP-2",
        Model.PMP,
        date(2026, 10, 1),
        None,
        utility_free_in_service_window=False,
        free_service_messages_per_month=1000,
    ),
)


def era_on(day: date, eras: tuple[Era, ...] = ERAS) -> Era | None:
    """The era in force on a calendar day, or ``None`` before the first one."""
    for era in eras:
        if era.starts <= day and (era.ends is None or day <= era.ends):
            return era
    return None


def era_named(name: str | None, eras: tuple[Era, ...] = ERAS) -> Era | None:
    return next((era for era in eras if era.name == name), None)


def era_at(at: datetime, zone: tzinfo, eras: tuple[Era, ...] = ERAS) -> Era | None:
    return era_on(local_date(at, zone), eras)


@dataclass(frozen=True, slots=True)
class Billing:
    """How one outbound message is billed.

    ``counts_toward_free_tier`` marks a PMP-2 service message whose fate depends on
    how many the line had delivered earlier that month (see ``free_tier``).
    """

    model: str
    category: str
    type: str
    billable: bool
    source: Source = Source.ESTIMATED
    era: str | None = None
    counts_toward_free_tier: bool = False


@dataclass(frozen=True, slots=True)
class PricingContext:
    """What the rules need to know about the thread at the moment of delivery."""

    service_window_open: bool
    entry_point_open: bool


def message_category(is_template: bool, category: str | None) -> str | None:
    """Templates carry their category; any other business message is ``service``."""
    if is_template:
        return category
    return Category.SERVICE


def estimate_pmp(era: Era, category: str, context: PricingContext) -> Billing:
    """Per-message pricing: who pays for this delivered message, and why."""

    def bill(kind: BillingType, billable: bool, tier: bool = False) -> Billing:
        return Billing(
            Model.PMP, category, kind, billable, era=era.name, counts_toward_free_tier=tier
        )

    family = price_family(category)
    if context.entry_point_open:
        return bill(BillingType.FREE_ENTRY_POINT, False)
    if family == Category.SERVICE:
        tiered = era.free_service_messages_per_month is not None
        return bill(BillingType.FREE_CUSTOMER_SERVICE, False, tier=tiered)
    free_utility = context.service_window_open and era.utility_free_in_service_window
    if family == Category.UTILITY and free_utility:
        return bill(BillingType.FREE_CUSTOMER_SERVICE, False)
    return bill(BillingType.REGULAR, True)


@dataclass(frozen=True, slots=True)
class CbpConversations:
    """Conversation-based pricing: open 24h billing conversations per category."""

    open_until: tuple[tuple[str, datetime], ...] = ()

    def open_at(self, at: datetime) -> dict[str, datetime]:
        return {c: until for c, until in self.open_until if at < until}


def estimate_cbp(
    era: Era, category: str, context: PricingContext, state: CbpConversations, at: datetime
) -> tuple[Billing, CbpConversations]:
    """Conversation-based pricing: the message that opens a paid conversation is the charge."""
    if context.entry_point_open:
        # The free entry point conversation (72h) replaces all others and is free.
        billing = Billing(
            Model.CBP,
            Category.REFERRAL_CONVERSION,
            BillingType.FREE_ENTRY_POINT,
            False,
            era=era.name,
        )
        return billing, state
    family = price_family(category)
    open_now = state.open_at(at)
    if family == Category.SERVICE and open_now:
        covering = sorted(open_now)[0]
        return _cbp_inside(era, covering), state
    if family in open_now:
        return _cbp_inside(era, family), state
    opened = (*tuple(open_now.items()), (family, at + CBP_CONVERSATION))
    new_state = CbpConversations(tuple(sorted(opened)))
    if family == Category.SERVICE:
        kind, billable = BillingType.FREE_CUSTOMER_SERVICE, False
    else:
        kind, billable = BillingType.REGULAR, True
    return Billing(Model.CBP, category, kind, billable, era=era.name), new_state


def _cbp_inside(era: Era, category: str) -> Billing:
    """A message inside an open conversation adds no charge of its own."""
    kind = (
        BillingType.FREE_CUSTOMER_SERVICE if category == Category.SERVICE else BillingType.REGULAR
    )
    return Billing(Model.CBP, category, kind, False, era=era.name)
