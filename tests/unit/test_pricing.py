"""Pricing eras and estimates (DESIGN 1.7): CBP, PMP-1, PMP-2, eras turning at local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from wawindow.domain.pricing import (
    ERAS,
    BillingType,
    CbpConversations,
    Era,
    Model,
    PricingContext,
    Source,
    era_at,
    era_named,
    era_on,
    estimate_cbp,
    estimate_pmp,
    message_category,
)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # UTC-3 all year since 2019
CLOSED = PricingContext(service_window_open=False, entry_point_open=False)
IN_CSW = PricingContext(service_window_open=True, entry_point_open=False)
IN_FEP = PricingContext(service_window_open=False, entry_point_open=True)
DAY = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)


def era(name: str) -> Era:
    found = era_named(name)
    assert found is not None
    return found


# -- eras --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2024, 10, 31), None),
        (date(2024, 11, 1), "CBP"),
        (date(2025, 6, 30), "CBP"),
        (date(2025, 7, 1), "PMP-1"),
        (date(2026, 9, 30), "PMP-1"),
        (date(2026, 10, 1), "PMP-2"),
        (date(2030, 1, 1), "PMP-2"),
    ],
)
def test_era_on_its_boundary_days(day: date, name: str | None) -> None:
    found = era_on(day)
    assert (found.name if found else None) == name


def test_era_models() -> None:
    assert era("CBP").model is Model.CBP
    assert era("PMP-1").model is Model.PMP
    assert era("PMP-2").model is Model.PMP
    assert era_named("nope") is None
    assert era_named(None) is None


def test_era_turns_at_midnight_utc_by_default() -> None:
    assert era_at(datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC), UTC) == era("CBP")
    assert era_at(datetime(2025, 7, 1, 0, 0, tzinfo=UTC), UTC) == era("PMP-1")


def test_era_turns_at_midnight_in_the_lines_time_zone() -> None:
    # 00:00 in São Paulo is 03:00 UTC.
    assert era_at(datetime(2025, 7, 1, 2, 59, 59, tzinfo=UTC), SAO_PAULO) == era("CBP")
    assert era_at(datetime(2025, 7, 1, 3, 0, tzinfo=UTC), SAO_PAULO) == era("PMP-1")
    assert era_at(datetime(2026, 10, 1, 2, 0, tzinfo=UTC), SAO_PAULO) == era("PMP-1")
    assert era_at(datetime(2026, 10, 1, 3, 0, tzinfo=UTC), SAO_PAULO) == era("PMP-2")


def test_no_era_before_the_first_in_the_lines_time_zone() -> None:
    assert era_at(datetime(2024, 11, 1, 2, 0, tzinfo=UTC), SAO_PAULO) is None
    assert era_at(datetime(2024, 11, 1, 3, 0, tzinfo=UTC), SAO_PAULO) == era("CBP")


def test_a_new_era_is_a_new_row() -> None:
    future = Era("PMP-3", Model.PMP, date(2028, 1, 1), None)
    eras = (*ERAS[:2], Era("PMP-2", Model.PMP, date(2026, 10, 1), date(2027, 12, 31)), future)
    assert era_on(date(2027, 12, 31), eras) is eras[2]
    assert era_on(date(2028, 1, 1), eras) is future


def test_the_eras_follow_each_other_without_gaps() -> None:
    for earlier, later in pairwise(ERAS):
        assert earlier.ends is not None
        assert later.starts == earlier.ends + timedelta(days=1)


# -- message category -------------------------------------------------------------------


def test_templates_carry_their_category_and_free_form_is_service() -> None:
    assert message_category(True, "utility") == "utility"
    assert message_category(True, None) is None
    assert message_category(False, "marketing") == "service"
    assert message_category(False, None) == "service"


# -- per-message pricing ---------------------------------------------------------------

PMP_CASES = [
    # (era, category, context, type, billable)
    ("PMP-1", "marketing", CLOSED, "regular", True),
    ("PMP-1", "marketing", IN_CSW, "regular", True),
    ("PMP-1", "marketing", IN_FEP, "free_entry_point", False),
    ("PMP-1", "authentication", CLOSED, "regular", True),
    ("PMP-1", "authentication", IN_CSW, "regular", True),
    ("PMP-1", "authentication", IN_FEP, "free_entry_point", False),
    ("PMP-1", "utility", CLOSED, "regular", True),
    ("PMP-1", "utility", IN_CSW, "free_customer_service", False),
    ("PMP-1", "utility", IN_FEP, "free_entry_point", False),
    ("PMP-1", "service", CLOSED, "free_customer_service", False),
    ("PMP-1", "service", IN_CSW, "free_customer_service", False),
    ("PMP-1", "service", IN_FEP, "free_entry_point", False),
    ("PMP-2", "marketing", CLOSED, "regular", True),
    ("PMP-2", "marketing", IN_CSW, "regular", True),
    ("PMP-2", "marketing", IN_FEP, "free_entry_point", False),
    ("PMP-2", "authentication", IN_CSW, "regular", True),
    ("PMP-2", "authentication", IN_FEP, "free_entry_point", False),
    ("PMP-2", "utility", CLOSED, "regular", True),
    ("PMP-2", "utility", IN_CSW, "regular", True),
    ("PMP-2", "utility", IN_FEP, "free_entry_point", False),
    ("PMP-2", "service", IN_CSW, "free_customer_service", False),
    ("PMP-2", "service", IN_FEP, "free_entry_point", False),
]


@pytest.mark.parametrize(("era_name", "category", "context", "kind", "billable"), PMP_CASES)
def test_estimate_pmp_by_category_window_and_fep(
    era_name: str, category: str, context: PricingContext, kind: str, billable: bool
) -> None:
    billing = estimate_pmp(era(era_name), category, context)
    assert (billing.type, billing.billable) == (kind, billable)
    assert billing.model == Model.PMP
    assert billing.category == category
    assert billing.era == era_name
    assert billing.source is Source.ESTIMATED


def test_service_counts_toward_the_free_tier_only_in_pmp2() -> None:
    assert estimate_pmp(era("PMP-2"), "service", IN_CSW).counts_toward_free_tier
    assert not estimate_pmp(era("PMP-1"), "service", IN_CSW).counts_toward_free_tier
    assert not estimate_pmp(era("PMP-2"), "utility", IN_CSW).counts_toward_free_tier
    assert not estimate_pmp(era("PMP-2"), "service", IN_FEP).counts_toward_free_tier


@pytest.mark.parametrize(
    ("category", "context", "kind", "billable"),
    [
        ("marketing_lite", CLOSED, "regular", True),
        ("marketing_lite", IN_FEP, "free_entry_point", False),
        ("authentication_international", IN_CSW, "regular", True),
        ("authentication_international", CLOSED, "regular", True),
    ],
)
def test_variants_are_priced_as_their_family(
    category: str, context: PricingContext, kind: str, billable: bool
) -> None:
    billing = estimate_pmp(era("PMP-1"), category, context)
    assert (billing.type, billing.billable) == (kind, billable)
    assert billing.category == category  # the category itself is kept


def test_an_unknown_category_is_kept_and_billed_regular() -> None:
    billing = estimate_pmp(era("PMP-1"), "holiday_greetings", IN_CSW)
    assert billing.category == "holiday_greetings"
    assert (billing.type, billing.billable) == (BillingType.REGULAR, True)


# -- conversation-based pricing --------------------------------------------------------


def cbp(
    category: str,
    at: datetime,
    state: CbpConversations | None = None,
    context: PricingContext = IN_CSW,
) -> tuple[bool, str, str, CbpConversations]:
    billing, after = estimate_cbp(era("CBP"), category, context, state or CbpConversations(), at)
    assert billing.model == Model.CBP
    assert billing.era == "CBP"
    return billing.billable, billing.category, billing.type, after


def test_cbp_service_conversation_is_free() -> None:
    billable, category, kind, state = cbp("service", DAY)
    assert (billable, category, kind) == (False, "service", "free_customer_service")
    assert state.open_at(DAY) == {"service": DAY + timedelta(hours=24)}


def test_cbp_paid_conversation_is_billed_once_per_24h_per_category() -> None:
    billable, category, kind, state = cbp("utility", DAY)
    assert (billable, category, kind) == (True, "utility", "regular")
    billable, _, kind, state = cbp("utility", DAY + timedelta(hours=4), state)
    assert (billable, kind) == (False, "regular")
    billable, _, _, state = cbp("utility", DAY + timedelta(hours=24) - timedelta(seconds=1), state)
    assert not billable
    billable, _, _, state = cbp("utility", DAY + timedelta(hours=24), state)
    assert billable


def test_cbp_each_paid_category_has_its_own_conversation() -> None:
    _, _, _, state = cbp("utility", DAY)
    billable, category, _, state = cbp("marketing", DAY + timedelta(hours=1), state)
    assert (billable, category) == (True, "marketing")
    assert set(state.open_at(DAY + timedelta(hours=1))) == {"marketing", "utility"}


def test_cbp_service_is_covered_by_any_open_conversation() -> None:
    _, _, _, state = cbp("marketing", DAY)
    billable, category, kind, after = cbp("service", DAY + timedelta(hours=2), state)
    assert (billable, category, kind) == (False, "marketing", "regular")
    assert after == state  # no service conversation opened


def test_cbp_paid_conversation_opens_even_inside_a_service_one() -> None:
    # DESIGN 5.9: free-form reply 10:05 (service), utility template 11:00, another at 15:00.
    _, _, _, state = cbp("service", DAY)
    billable, category, _, state = cbp("utility", DAY + timedelta(hours=1), state)
    assert (billable, category) == (True, "utility")
    billable, _, _, state = cbp("utility", DAY + timedelta(hours=5), state)
    assert not billable


def test_cbp_expired_conversations_are_dropped() -> None:
    _, _, _, state = cbp("utility", DAY)
    _, _, _, state = cbp("marketing", DAY + timedelta(hours=30), state)
    assert [c for c, _ in state.open_until] == ["marketing"]


def test_cbp_free_entry_point_is_free_as_referral_conversion() -> None:
    _, _, _, before = cbp("utility", DAY)
    billable, category, kind, after = cbp("marketing", DAY + timedelta(hours=1), before, IN_FEP)
    assert (billable, category, kind) == (False, "referral_conversion", "free_entry_point")
    assert after == before


def test_cbp_variants_share_their_familys_conversation() -> None:
    _, _, _, state = cbp("marketing", DAY)
    billable, category, _, _ = cbp("marketing_lite", DAY + timedelta(hours=1), state)
    assert not billable
    assert category == "marketing"
    billable, category, _, _ = cbp("authentication_international", DAY, CbpConversations())
    assert (billable, category) == (True, "authentication_international")
