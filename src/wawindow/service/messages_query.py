"""Read-side use cases for messages: the status timeline, errors and billing, priced.

A stored message carries the billing its thread's fold settled on, with one
exception: the PMP-2 monthly allowance of free service messages (DESIGN 1.7)
depends on every thread of the line, so the fold stores those messages as
*candidates* and the allowance is applied here, at query time. Per line and
calendar month (in the line's time zone) the candidates are ranked by
``(delivered_at, id)``, as :func:`wawindow.domain.settlement.beyond_free_tier`
ranks them; the first ``allowance`` are free, the rest billable ``regular``.
Instead of loading a month of candidates, the store names the last one the
allowance covers (the *cutoff*) and a candidate is beyond it when it sorts after.

A candidate's billing (and its billing drift) is settled again with the allowance
applied, so the provider's report is compared with the right estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from wawindow.domain.categories import Category
from wawindow.domain.drift import Drift, DriftKind
from wawindow.domain.messages import MessageRecord, status_rank
from wawindow.domain.pricing import Billing, BillingType, Model, Source, era_named
from wawindow.domain.rate_card import Cost, RateCard, cost_of
from wawindow.domain.settlement import apply_free_tier, settle
from wawindow.domain.times import local_date

TierCutoff = tuple[datetime, str]
"""``(delivered_at, message_id)`` of the last candidate a month's allowance covers."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message row as stored, with what the query API adds to it."""

    tenant_id: str
    id: str
    line: str
    timezone: str  # the line's IANA time zone (eras and months turn there)
    contact_id: str
    contact_phone: str | None
    contact_bsuid: str | None
    market: str | None  # the contact's country (phone number, else BSUID prefix)
    conversation_id: str | None
    direction: str
    at: datetime | None
    type: str | None
    status: str
    record: MessageRecord
    billing: Billing | None  # as the fold settled it, before the monthly allowance
    delivered_at: datetime | None
    free_tier_candidate: bool
    drift: tuple[Drift, ...] = ()  # stored drift records of this message


@dataclass(frozen=True, slots=True)
class MessageFilter:
    contact_id: str | None = None
    conversation_id: str | None = None
    direction: str | None = None
    status: str | None = None
    since: datetime | None = None  # on the message's time, inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class PricedMessage:
    """A message as the API shows it: billing settled with the allowance, and its cost."""

    message: StoredMessage
    billing: Billing | None
    cost: Cost | None  # None when the message has no billing
    drift: tuple[Drift, ...]

    @property
    def billing_drift(self) -> tuple[Drift, ...]:
        return tuple(d for d in self.drift if d.kind is DriftKind.BILLING)


@dataclass(frozen=True, slots=True)
class MessagePage:
    items: list[PricedMessage]
    total: int
    page: int
    page_size: int


class FreeTierStore(Protocol):
    def free_tier_cutoff(
        self, tenant_id: str, line: str, start: datetime, end: datetime, allowance: int
    ) -> TierCutoff | None:
        """The ``allowance``-th free-tier candidate of the line delivered in
        ``[start, end)`` in ``(delivered_at, id)`` order, or ``None`` when there are fewer."""


class MessageStore(FreeTierStore, Protocol):
    def message(self, tenant_id: str, message_id: str) -> StoredMessage | None:
        """One of the tenant's messages, with its drift records."""

    def messages(
        self, tenant_id: str, where: MessageFilter, offset: int, limit: int
    ) -> tuple[list[StoredMessage], int]:
        """The tenant's messages matching ``where``, newest first, and how many match."""


class RateCardSource(Protocol):
    def rate_card(self, tenant_id: str) -> RateCard:
        """The tenant's rate card (empty when none was loaded)."""


def month_bounds(at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The calendar month of ``at`` in ``zone``, as a UTC interval ``[start, end)``."""
    first = local_date(at, zone).replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    start = datetime(first.year, first.month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(following.year, following.month, 1, tzinfo=zone).astimezone(UTC)
    return start, end


def allowance_of(billing: Billing | None) -> int | None:
    """The free service messages per line and month in the era of a billing, if any."""
    era = era_named(billing.era) if billing is not None else None
    return era.free_service_messages_per_month if era is not None else None


class FreeTier:
    """Which free-tier candidates are past their line's monthly allowance.

    One per query (one transaction): the cutoff of each (line, month) is asked once.
    """

    def __init__(self, store: FreeTierStore, tenant_id: str) -> None:
        self._store = store
        self._tenant_id = tenant_id
        self._cutoffs: dict[tuple[str, datetime], TierCutoff | None] = {}

    def beyond(self, message: StoredMessage) -> bool:
        delivered_at = message.delivered_at
        allowance = allowance_of(message.billing)
        if not message.free_tier_candidate or delivered_at is None or allowance is None:
            return False
        start, end = month_bounds(delivered_at, ZoneInfo(message.timezone))
        key = (message.line, start)
        if key not in self._cutoffs:
            self._cutoffs[key] = self._store.free_tier_cutoff(
                self._tenant_id, message.line, start, end, allowance
            )
        cutoff = self._cutoffs[key]
        return cutoff is not None and (delivered_at, message.id) > cutoff


def _tier_estimate(billing: Billing) -> Billing:
    """The estimate of a free-tier candidate: stored as such, or under the provider's word."""
    if billing.source is Source.ESTIMATED:
        return billing
    # Only a PMP service message outside an entry point is a candidate (pricing.estimate_pmp).
    return Billing(
        Model.PMP,
        Category.SERVICE,
        BillingType.FREE_CUSTOMER_SERVICE,
        False,
        era=billing.era,
        counts_toward_free_tier=True,
    )


def settled(
    message: StoredMessage, beyond_allowance: bool
) -> tuple[Billing | None, tuple[Drift, ...]]:
    """The billing to show and the message's drift, with the monthly allowance applied."""
    billing = message.billing
    if billing is None or not message.free_tier_candidate:
        return billing, message.drift
    estimate = apply_free_tier(_tier_estimate(billing), beyond_allowance)
    shown, disagreement = settle(message.record, estimate)
    kept = tuple(d for d in message.drift if d.kind is not DriftKind.BILLING)
    return shown, kept + ((disagreement,) if disagreement is not None else ())


def price(message: StoredMessage, billing: Billing | None, card: RateCard) -> Cost | None:
    """The cost of a billed message on the tenant's card, on its day in the line's zone.

    Priced in the card's default currency; when that has no rate for the message, in
    the first other currency (alphabetical) that has one, so a card that prices some
    markets in USD and others in EUR prices them all.
    """
    when = message.delivered_at or message.at
    if billing is None or when is None:
        return None
    day = local_date(when, ZoneInfo(message.timezone))
    cost = cost_of(card, message.market, billing.category, billing.billable, day)
    if cost.price is not None:
        return cost
    for currency in card.currencies:
        rate = card.price(message.market, billing.category, day, currency)
        if rate is not None:
            return Cost(message.market, rate.price, rate.currency)
    return cost


def priced(message: StoredMessage, tier: FreeTier, card: RateCard) -> PricedMessage:
    billing, drift = settled(message, tier.beyond(message))
    return PricedMessage(message, billing, price(message, billing, card), drift)


def find_message(
    store: MessageStore, card: RateCard, tenant_id: str, message_id: str
) -> PricedMessage | None:
    """One message of the tenant (``None``: not the tenant's, or unknown)."""
    message = store.message(tenant_id, message_id)
    if message is None:
        return None
    return priced(message, FreeTier(store, tenant_id), card)


def list_messages(
    store: MessageStore,
    card: RateCard,
    tenant_id: str,
    where: MessageFilter,
    page: int = 1,
    page_size: int = 50,
) -> MessagePage:
    """A page of the tenant's messages, newest first."""
    rows, total = store.messages(tenant_id, where, (page - 1) * page_size, page_size)
    tier = FreeTier(store, tenant_id)
    return MessagePage([priced(row, tier, card) for row in rows], total, page, page_size)


def status_timeline(record: MessageRecord) -> Sequence[tuple[str, datetime]]:
    """Every status the message went through, in time order (same second: by rank)."""
    return sorted(record.status_times.items(), key=lambda item: (item[1], status_rank(item[0])))
