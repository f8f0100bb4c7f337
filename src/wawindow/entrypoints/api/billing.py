"""``GET /v1/billing/summary`` and ``GET /v1/drift``.

The summary adds up the outbound messages delivered in ``[since, until)``:
billable and free counts, the estimated cost per currency (Decimal strings, from
the tenant's rate card), how many bills the provider reported and how many are
wawindow's estimates, and the drift count; per ``group_by`` (``line``,
``market`` — the contact's country —, ``category``, ``day`` in the line's time
zone) and in total. In the CBP era a billable message is the one that opened a
paid conversation, so the billable count is the number of paid conversations.

``/v1/drift`` lists every disagreement between wawindow's computation and what the
provider reported: ``window`` (a send failed with 131047 while the window looked
open) and ``billing`` (the provider billed a message otherwise than estimated).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.message_store import SqlMessageStore
from wawindow.domain.drift import DriftKind
from wawindow.entrypoints.api.deps import ServicesDep, TenantDep
from wawindow.entrypoints.api.messages import decimal_text, tenant_rate_card
from wawindow.entrypoints.api.problems import problem_responses
from wawindow.entrypoints.api.query_params import check_period, query_instant
from wawindow.service.billing import (
    BillingSummary,
    GroupBy,
    StoredDrift,
    Tally,
    list_drift,
    summarize,
)

router = APIRouter(prefix="/v1", tags=["billing"])

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


class TallyOut(BaseModel):
    key: str | None = Field(
        description="The group: a phone_number_id, a country, a category or a YYYY-MM-DD "
        "day; null for the totals (or an unknown market)."
    )
    messages_count: int = Field(description="Delivered messages with a billing.")
    billable_count: int
    free_count: int
    provider_reported_count: int = Field(description="Billing as the provider reported it.")
    estimated_count: int = Field(description="Billing as wawindow estimated it.")
    unpriced_count: int = Field(description="Billable, but the rate card has no price.")
    drift_count: int = Field(description="Messages the provider billed otherwise.")
    estimated_cost: dict[str, str] = Field(
        description="Currency → total of the billable messages' prices (Decimal string)."
    )


class DriftCountsOut(BaseModel):
    billing: int
    window: int
    total: int


class SummaryOut(BaseModel):
    since: datetime
    until: datetime
    group_by: GroupBy | None
    rate_card_loaded: bool
    totals: TallyOut
    groups: list[TallyOut]
    drift: DriftCountsOut = Field(description="Drift records in the period, by kind.")


class DriftItemOut(BaseModel):
    message_id: str
    kind: DriftKind
    at: datetime
    computed: str = Field(description="What wawindow computed.")
    provider: str = Field(description="What the provider reported.")
    detail: str
    phone_number_id: str
    contact_id: str


class DriftPageOut(BaseModel):
    items: list[DriftItemOut]
    total: int
    page: int
    page_size: int


def _month_of(now: datetime) -> tuple[datetime, datetime]:
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _period(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Neither bound: the current calendar month (UTC); one bound: open on the other side."""
    if since is None and until is None:
        return _month_of(now)
    return since or EARLIEST, until or LATEST


def _tally_out(key: str | None, tally: Tally) -> TallyOut:
    return TallyOut(
        key=key,
        messages_count=tally.messages,
        billable_count=tally.billable,
        free_count=tally.free,
        provider_reported_count=tally.provider_reported,
        estimated_count=tally.estimated,
        unpriced_count=tally.unpriced,
        drift_count=tally.drift,
        estimated_cost={
            currency: decimal_text(total) for currency, total in sorted(tally.cost.items())
        },
    )


def _summary_out(summary: BillingSummary) -> SummaryOut:
    billing = summary.drift.get(DriftKind.BILLING, 0)
    window = summary.drift.get(DriftKind.WINDOW, 0)
    return SummaryOut(
        since=summary.since,
        until=summary.until,
        group_by=summary.group_by,
        rate_card_loaded=summary.has_rate_card,
        totals=_tally_out(None, summary.totals),
        groups=[_tally_out(key, tally) for key, tally in summary.groups],
        drift=DriftCountsOut(billing=billing, window=window, total=billing + window),
    )


@router.get(
    "/billing/summary",
    response_model=SummaryOut,
    summary="Billable and free messages, estimated cost and drift in a period",
    responses=problem_responses(401, 422),
)
async def billing_summary(
    svc: ServicesDep,
    tenant_id: TenantDep,
    since: Annotated[
        datetime | None,
        Query(description="ISO 8601; delivered at or after. With no bounds: this month (UTC)."),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(description="ISO 8601; delivered before. With no bounds: this month (UTC)."),
    ] = None,
    group_by: Annotated[GroupBy | None, Query(description="Also add up per group.")] = None,
) -> SummaryOut:
    start, end = _period(
        query_instant(since, "query.since"), query_instant(until, "query.until"), svc.clock()
    )
    check_period(start, end)

    def load() -> BillingSummary:
        card = tenant_rate_card(svc, tenant_id)
        with SqlMessageStore(svc.engine) as store:
            return summarize(store, card, tenant_id, start, end, group_by)

    return _summary_out(await run_in_threadpool(load))


@router.get(
    "/drift",
    response_model=DriftPageOut,
    summary="Every disagreement with what the provider reported, oldest first",
    responses=problem_responses(401, 422),
)
async def drift(
    svc: ServicesDep,
    tenant_id: TenantDep,
    kind: Annotated[DriftKind | None, Query(description="window or billing.")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; at or after.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; before.")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DriftPageOut:
    start = query_instant(since, "query.since") or EARLIEST
    end = query_instant(until, "query.until") or LATEST
    check_period(start, end)

    def load() -> list[StoredDrift]:
        with SqlMessageStore(svc.engine) as store:
            return list_drift(store, tenant_id, kind, start, end)

    found = await run_in_threadpool(load)
    shown = found[(page - 1) * page_size : page * page_size]
    items = [
        DriftItemOut(
            message_id=item.drift.message_id,
            kind=item.drift.kind,
            at=item.drift.at,
            computed=item.drift.computed,
            provider=item.drift.provider,
            detail=item.drift.detail,
            phone_number_id=item.line,
            contact_id=item.contact_id,
        )
        for item in shown
    ]
    return DriftPageOut(items=items, total=len(found), page=page, page_size=page_size)
