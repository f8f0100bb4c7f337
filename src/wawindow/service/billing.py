"""Billing use cases: a tenant's rate card, the billing summary, and the drift list.

The summary adds up the outbound messages *delivered* in ``[since, until)`` (that
is when WhatsApp charges), with their billing settled as the messages API shows
it (monthly allowance applied, provider's word over the estimate). In the CBP era
the charge is the paid conversation, which the estimate puts on the message that
opened it: counting billable messages counts paid conversations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from wawindow.domain.drift import Drift, DriftKind
from wawindow.domain.pricing import Source
from wawindow.domain.rate_card import RateCard, RateCardError
from wawindow.domain.times import local_date
from wawindow.service.messages_query import (
    FreeTier,
    FreeTierStore,
    PricedMessage,
    StoredMessage,
    priced,
    settled,
)
from wawindow.service.tenants import TenantError

PRICE_PLACES: Final = 6
"""Decimal places a stored price keeps (``rates.price`` is NUMERIC(18, 6))."""
PRICE_LIMIT: Final = Decimal(10) ** 9
"""Prices are below this, so that SQLite (which keeps NUMERIC as a double) keeps them exactly."""
NAME_LENGTH: Final = 64
"""The longest market or category name a rate card row may have."""


# --------------------------------------------------------------------------- rate cards


class RateCardStore(Protocol):
    def tenant_exists(self, tenant_id: str) -> bool: ...

    def replace_rate_card(self, tenant_id: str, card: RateCard) -> None:
        """Drop the tenant's rates and country markets, store ``card``'s instead."""

    def commit(self) -> None: ...


def check_storable(card: RateCard) -> None:
    """Raise :class:`RateCardError` for a rate the database could not keep exactly."""
    for rate in card.rates:
        name = (
            f"{rate.market} / {rate.category} / {rate.currency} "
            f"from {rate.effective_from.isoformat()}"
        )
        exponent = rate.price.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -PRICE_PLACES:
            raise RateCardError(f"{name}: price {rate.price} has more than {PRICE_PLACES} decimals")
        if rate.price >= PRICE_LIMIT:
            raise RateCardError(f"{name}: price {rate.price} is too large")
        if len(rate.market) > NAME_LENGTH or len(rate.category) > NAME_LENGTH:
            raise RateCardError(f"{name}: market and category names are limited to 64 characters")


def replace_rate_card(store: RateCardStore, tenant_id: str, card: RateCard) -> int:
    """Make ``card`` the tenant's rate card (all of it: earlier rows go); returns the rows."""
    if not store.tenant_exists(tenant_id):
        raise TenantError(f"tenant: no tenant {tenant_id!r}")
    check_storable(card)
    store.replace_rate_card(tenant_id, card)
    store.commit()
    return len(card.rates)


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True, slots=True)
class StoredDrift:
    drift: Drift
    line: str
    contact_id: str


class DriftStore(FreeTierStore, Protocol):
    def drift(
        self, tenant_id: str, kind: DriftKind | None, since: datetime, until: datetime
    ) -> list[StoredDrift]:
        """The tenant's stored drift records with ``at`` in ``[since, until)``."""

    def reported_tier_candidates(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> list[StoredMessage]:
        """Free-tier candidates delivered in ``[since, until)`` whose billing the
        provider reported (only those can disagree with the estimate)."""


def _drift_order(item: StoredDrift) -> tuple[datetime, str, str]:
    return (item.drift.at, item.drift.message_id, item.drift.kind.value)


def list_drift(
    store: DriftStore,
    tenant_id: str,
    kind: DriftKind | None,
    since: datetime,
    until: datetime,
) -> list[StoredDrift]:
    """Every disagreement with the provider in ``[since, until)``, oldest first.

    A free-tier candidate's billing drift is judged again with the allowance applied.
    """
    found = store.drift(tenant_id, kind, since, until)
    if kind in (None, DriftKind.BILLING):
        candidates = store.reported_tier_candidates(tenant_id, since, until)
        judged = {message.id for message in candidates}
        found = [
            item
            for item in found
            if item.drift.kind is not DriftKind.BILLING or item.drift.message_id not in judged
        ]
        tier = FreeTier(store, tenant_id)
        for message in candidates:
            _, drift = settled(message, tier.beyond(message))
            found.extend(
                StoredDrift(d, message.line, message.contact_id)
                for d in drift
                if d.kind is DriftKind.BILLING and since <= d.at < until
            )
    return sorted(found, key=_drift_order)


# --------------------------------------------------------------------------- summary


class GroupBy(StrEnum):
    LINE = "line"
    MARKET = "market"
    CATEGORY = "category"
    DAY = "day"


@dataclass
class Tally:
    """Counts and estimated cost of a set of delivered, billed messages."""

    messages: int = 0
    billable: int = 0
    free: int = 0
    provider_reported: int = 0
    estimated: int = 0
    unpriced: int = 0  # billable, but the card has no rate for it
    drift: int = 0  # messages whose billing the provider reported differently
    cost: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum

    def add(self, item: PricedMessage) -> None:
        billing = item.billing
        if billing is None:
            return
        self.messages += 1
        if billing.billable:
            self.billable += 1
        else:
            self.free += 1
        if billing.source is Source.PROVIDER:
            self.provider_reported += 1
        else:
            self.estimated += 1
        if item.billing_drift:
            self.drift += 1
        if billing.billable:
            self._charge(item)

    def _charge(self, item: PricedMessage) -> None:
        cost = item.cost
        if cost is None or cost.price is None or cost.currency is None:
            self.unpriced += 1
            return
        self.cost[cost.currency] = self.cost.get(cost.currency, Decimal(0)) + cost.price


@dataclass(frozen=True, slots=True)
class BillingSummary:
    since: datetime
    until: datetime
    group_by: GroupBy | None
    groups: list[tuple[str | None, Tally]]
    totals: Tally
    drift: dict[DriftKind, int]  # drift records in the period, by kind
    has_rate_card: bool


class SummaryStore(DriftStore, Protocol):
    def delivered(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> Iterable[StoredMessage]:
        """The tenant's billed outbound messages delivered in ``[since, until)``, in
        ``(delivered_at, id)`` order (the free tier's order), read as they are used."""


def _group_key(group_by: GroupBy) -> Callable[[PricedMessage], str | None]:
    def key(item: PricedMessage) -> str | None:
        message = item.message
        match group_by:
            case GroupBy.LINE:
                return message.line
            case GroupBy.MARKET:
                return message.market
            case GroupBy.CATEGORY:
                return item.billing.category if item.billing is not None else None
            case GroupBy.DAY:
                at = message.delivered_at or message.at
                if at is None:
                    return None
                return local_date(at, ZoneInfo(message.timezone)).isoformat()

    return key


def _sorted_groups(groups: dict[str | None, Tally]) -> list[tuple[str | None, Tally]]:
    return sorted(groups.items(), key=lambda group: (group[0] is None, group[0] or ""))


def summarize(
    store: SummaryStore,
    card: RateCard,
    tenant_id: str,
    since: datetime,
    until: datetime,
    group_by: GroupBy | None = None,
) -> BillingSummary:
    """Billable and free counts, estimated cost per currency and drift, per group."""
    tier = FreeTier(store, tenant_id)
    totals = Tally()
    groups: dict[str | None, Tally] = {}
    key = None if group_by is None else _group_key(group_by)
    # One pass, keeping only the tallies: a period may hold millions of messages.
    for message in store.delivered(tenant_id, since, until):
        item = priced(message, tier, card)
        totals.add(item)
        if key is not None:
            groups.setdefault(key(item), Tally()).add(item)
    window = len(list_drift(store, tenant_id, DriftKind.WINDOW, since, until))
    return BillingSummary(
        since=since,
        until=until,
        group_by=group_by,
        groups=_sorted_groups(groups),
        totals=totals,
        drift={DriftKind.BILLING: totals.drift, DriftKind.WINDOW: window},
        has_rate_card=bool(card.rates),
    )
