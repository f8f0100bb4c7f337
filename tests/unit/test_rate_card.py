"""The rate card: CSV parsing, dated lookups, market and category fallbacks, Decimal money."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wawindow.domain.rate_card import (
    DEFAULT_MARKET,
    Rate,
    RateCard,
    RateCardError,
    parse_rate_card_csv,
)

HEADER = "market,category,currency,price,effective_from,countries"

CARD = f"""\
# a comment line
{HEADER}
North America,marketing,USD,0.0250,2024-11-01,US CA
North America,utility,USD,0.0040,2024-11-01,
North America,utility,USD,0.0034,2025-07-01,

Rest of Africa,marketing,USD,0.0225,2024-11-01,NG|KE GH
  # an indented comment
Rest of Africa,authentication_international,USD,0.0300,2024-11-01,
IN,marketing,USD,0.0107,2024-11-01,
IN,marketing_lite,USD,0.0090,2024-11-01,
*,marketing,USD,0.0604,2024-11-01,
*,authentication,USD,0.0424,2024-11-01,
*,utility,USD,0.0077,2024-11-01,
"""


def card() -> RateCard:
    return parse_rate_card_csv(CARD)


def price_of(rate: Rate | None) -> Decimal | None:
    return None if rate is None else rate.price


# --------------------------------------------------------------------------- parsing


def test_parses_rows_comments_blank_lines_and_countries() -> None:
    parsed = card()
    assert len(parsed.rates) == 10
    assert parsed.currencies == ("USD",)
    assert parsed.market_of_country("us") == "North America"
    assert parsed.market_of_country("GH") == "Rest of Africa"
    assert parsed.market_of_country("FR") is None
    assert all(isinstance(rate.price, Decimal) for rate in parsed.rates)


def test_prices_are_exact_decimals() -> None:
    text = f"{HEADER}\nBR,marketing,USD,0.1,2024-11-01,\nBR,utility,USD,0.2,2024-11-01,\n"
    parsed = parse_rate_card_csv(text)
    on = date(2025, 1, 1)
    marketing = parsed.price("BR", "marketing", on)
    utility = parsed.price("BR", "utility", on)
    assert marketing is not None
    assert utility is not None
    assert marketing.price + utility.price == Decimal("0.3")
    assert str(marketing.price) == "0.1"


def test_header_in_any_order_and_case_without_countries() -> None:
    text = "Price, Currency, Market, Category, Effective_From\n0.5,EUR,DE,MARKETING,2025-07-01\n"
    rate = parse_rate_card_csv(text).price("DE", "marketing", date(2025, 7, 1))
    assert rate == Rate("DE", "marketing", "EUR", Decimal("0.5"), date(2025, 7, 1))


def test_category_spellings_are_normalised() -> None:
    text = f"{HEADER}\nIN,Authentication-International,USD,0.028,2024-11-01,\n"
    rate = parse_rate_card_csv(text).price("IN", "AUTHENTICATION_INTERNATIONAL", date(2025, 1, 1))
    assert rate is not None
    assert rate.category == "authentication_international"


def test_a_card_with_only_a_header_is_empty() -> None:
    empty = parse_rate_card_csv(HEADER + "\n")
    assert empty.rates == ()
    assert empty.default_currency is None
    assert empty.price("US", "marketing", date(2025, 1, 1)) is None


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("BR,marketing,USD,abc,2024-11-01,", "price", "not a decimal number"),
        ("BR,marketing,USD,$0.05,2024-11-01,", "price", "not a decimal number"),
        ("BR,marketing,USD,NaN,2024-11-01,", "price", "not a decimal number"),
        ("BR,marketing,USD,-0.01,2024-11-01,", "price", "negative"),
        ("BR,marketing,USD,0.01,2024-13-01,", "effective_from", "not a date"),
        ("BR,marketing,USD,0.01,01/11/2024,", "effective_from", "not a date"),
        ("BR,marketing,USD,0.01,20241101,", "effective_from", "not a date"),
        ("BR,marketing,usd,0.01,2024-11-01,", "currency", "not a currency code"),
        ("BR,marketing,US$,0.01,2024-11-01,", "currency", "not a currency code"),
        ("BR,marketing,USDT,0.01,2024-11-01,", "currency", "not a currency code"),
        ("BR,marketing,USD,0.01", "effective_from", "missing"),
        ("BR,marketing,USD,,2024-11-01,", "price", "missing"),
        (",marketing,USD,0.01,2024-11-01,", "market", "missing"),
        ("BR,,USD,0.01,2024-11-01,", "category", "missing"),
        ("Rest of Africa,marketing,USD,0.01,2024-11-01,NG N1", "countries", "alpha-2"),
        ("*,marketing,USD,0.01,2024-11-01,FR", "countries", "default market"),
    ],
)
def test_bad_rows_name_the_row_and_the_column(row: str, column: str, words: str) -> None:
    text = f"# example\n{HEADER}\nBR,utility,USD,0.008,2024-11-01,\n{row}\n"
    with pytest.raises(RateCardError) as caught:
        parse_rate_card_csv(text)
    error = caught.value
    assert error.row == 4
    assert error.column == column
    assert "row 4" in str(error)
    assert f"column {column}" in str(error)
    assert words in str(error)


def test_too_many_values_names_the_row() -> None:
    text = f"{HEADER}\nBR,marketing,USD,0.01,2024-11-01,,extra\n"
    with pytest.raises(RateCardError, match="row 2") as caught:
        parse_rate_card_csv(text)
    assert caught.value.row == 2


def test_duplicate_rows_are_refused() -> None:
    text = f"{HEADER}\nBR,marketing,USD,0.01,2024-11-01,\nbr,MARKETING,USD,0.02,2024-11-01,\n"
    with pytest.raises(RateCardError, match="duplicates row 2") as caught:
        parse_rate_card_csv(text)
    assert caught.value.row == 3


def test_a_country_in_two_named_markets_is_refused() -> None:
    text = (
        f"{HEADER}\nRest of Africa,marketing,USD,0.02,2024-11-01,NG KE\n"
        "West Africa,marketing,USD,0.03,2024-11-01,NG\n"
    )
    with pytest.raises(RateCardError, match="NG is already in market 'Rest of Africa'") as caught:
        parse_rate_card_csv(text)
    assert (caught.value.row, caught.value.column) == (3, "countries")


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("market,category,currency,price", "no 'effective_from' column"),
        ("market,category,currency,price,effective_from,notes", "unknown column 'notes'"),
        ("market,category,currency,price,effective_from,price", "twice"),
    ],
)
def test_bad_headers(header: str, words: str) -> None:
    with pytest.raises(RateCardError, match=words) as caught:
        parse_rate_card_csv(f"# comment\n{header}\n")
    assert caught.value.row == 2


def test_text_without_a_header_is_refused() -> None:
    with pytest.raises(RateCardError, match="no header"):
        parse_rate_card_csv("# only comments\n\n")


def test_a_byte_order_mark_is_ignored() -> None:
    parsed = parse_rate_card_csv("\ufeff" + HEADER + "\nGB,utility,GBP,0.02,2024-11-01,\n")
    assert parsed.currencies == ("GBP",)


# --------------------------------------------------------------------------- dated lookup


def test_before_the_first_effective_date_there_is_no_price() -> None:
    assert card().price("US", "utility", date(2024, 10, 31)) is None


def test_the_effective_day_is_inclusive() -> None:
    parsed = card()
    assert price_of(parsed.price("US", "utility", date(2024, 11, 1))) == Decimal("0.0040")
    assert price_of(parsed.price("US", "utility", date(2025, 6, 30))) == Decimal("0.0040")
    assert price_of(parsed.price("US", "utility", date(2025, 7, 1))) == Decimal("0.0034")
    assert price_of(parsed.price("US", "utility", date(2030, 1, 1))) == Decimal("0.0034")


def test_a_market_whose_rows_start_later_falls_back_until_then() -> None:
    text = f"{HEADER}\nBR,marketing,USD,0.0625,2025-07-01,\n*,marketing,USD,0.06,2024-11-01,\n"
    parsed = parse_rate_card_csv(text)
    before = parsed.price("BR", "marketing", date(2025, 6, 30))
    assert before is not None
    assert before.market == DEFAULT_MARKET
    assert price_of(parsed.price("BR", "marketing", date(2025, 7, 1))) == Decimal("0.0625")


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_the_rate_in_force_is_the_latest_not_after_the_day(on: date) -> None:
    rate = card().price("US", "utility", on)
    if on < date(2024, 11, 1):
        assert rate is None
    else:
        assert rate is not None
        assert rate.effective_from <= on
        assert rate.effective_from == (
            date(2025, 7, 1) if on >= date(2025, 7, 1) else date(2024, 11, 1)
        )


# --------------------------------------------------------------------------- fallbacks


def test_country_falls_back_to_its_named_market_then_to_the_default() -> None:
    parsed = card()
    on = date(2025, 8, 1)
    us = parsed.price("US", "marketing", on)
    assert us is not None
    assert us.market == "North America"
    ng = parsed.price("ng", "marketing", on)
    assert ng is not None
    assert (ng.market, ng.price) == ("Rest of Africa", Decimal("0.0225"))
    fr = parsed.price("FR", "marketing", on)
    assert fr is not None
    assert (fr.market, fr.price) == ("*", Decimal("0.0604"))
    ke_utility = parsed.price("KE", "utility", on)
    assert ke_utility is not None
    assert ke_utility.market == "*"


def test_named_markets_and_unknown_markets_are_looked_up_too() -> None:
    parsed = card()
    on = date(2025, 8, 1)
    assert price_of(parsed.price("north america", "marketing", on)) == Decimal("0.0250")
    assert price_of(parsed.price(None, "marketing", on)) == Decimal("0.0604")
    assert price_of(parsed.price("", "marketing", on)) == Decimal("0.0604")
    assert price_of(parsed.price("*", "marketing", on)) == Decimal("0.0604")
    assert parsed.market_chain("KE") == ("KE", "Rest of Africa", "*")


def test_without_a_default_market_an_unknown_country_has_no_price() -> None:
    parsed = parse_rate_card_csv(f"{HEADER}\nBR,marketing,USD,0.06,2024-11-01,\n")
    assert parsed.price("FR", "marketing", date(2025, 1, 1)) is None


def test_price_family_is_only_a_fallback() -> None:
    parsed = card()
    on = date(2025, 8, 1)
    own_row = parsed.price("IN", "marketing_lite", on)
    assert own_row is not None
    assert (own_row.category, own_row.price) == ("marketing_lite", Decimal("0.0090"))
    family = parsed.price("US", "marketing_lite", on)
    assert family is not None
    assert (family.category, family.market) == ("marketing", "North America")
    intl = parsed.price("NG", "authentication-international", on)
    assert intl is not None
    assert intl.category == "authentication_international"
    # The market decides before the category: FR has no own rows, * has authentication.
    fr = parsed.price("FR", "authentication_international", on)
    assert fr is not None
    assert (fr.market, fr.category) == ("*", "authentication")


def test_unknown_categories_get_no_price() -> None:
    assert card().price("US", "referral_conversion", date(2025, 8, 1)) is None
    assert card().price("US", "  ", date(2025, 8, 1)) is None


# --------------------------------------------------------------------------- currencies


MULTI = f"""\
{HEADER}
BR,marketing,USD,0.0625,2024-11-01,
BR,marketing,BRL,0.35,2024-11-01,
GB,marketing,GBP,0.04,2024-11-01,
"""


def test_several_currencies_default_to_the_first_by_name() -> None:
    parsed = parse_rate_card_csv(MULTI)
    on = date(2025, 1, 1)
    assert parsed.currencies == ("BRL", "GBP", "USD")
    assert parsed.default_currency == "BRL"
    assert price_of(parsed.price("BR", "marketing", on)) == Decimal("0.35")
    assert price_of(parsed.price("BR", "marketing", on, currency="usd")) == Decimal("0.0625")
    assert parsed.price("GB", "marketing", on) is None
    assert price_of(parsed.price("GB", "marketing", on, currency="GBP")) == Decimal("0.04")
    assert parsed.price("BR", "marketing", on, currency="EUR") is None


def test_a_single_currency_card_uses_it() -> None:
    assert card().default_currency == "USD"


# --------------------------------------------------------------------------- building cards


def test_cards_are_built_from_rates_and_a_country_mapping() -> None:
    rates = [
        Rate("Rest of Africa", "marketing", "USD", Decimal("0.0225"), date(2024, 11, 1)),
        Rate("*", "marketing", "USD", Decimal("0.06"), date(2024, 11, 1)),
    ]
    built = RateCard(rates, {"ng": "Rest of Africa"})
    assert built.countries == (("NG", "Rest of Africa"),)
    assert price_of(built.price("NG", "marketing", date(2025, 1, 1))) == Decimal("0.0225")
    assert built == RateCard(reversed(rates), {"NG": "Rest of Africa"})
    assert hash(built) == hash(RateCard(rates, {"NG": "Rest of Africa"}))


def test_two_rates_for_one_day_clash() -> None:
    rate = Rate("BR", "marketing", "USD", Decimal("0.06"), date(2024, 11, 1))
    with pytest.raises(RateCardError, match="two rates"):
        RateCard([rate, Rate("BR", "marketing", "USD", Decimal("0.07"), date(2024, 11, 1))])


def test_rates_refuse_floats_negative_prices_and_bad_currencies() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        Rate("BR", "marketing", "USD", 0.06, date(2024, 11, 1))  # type: ignore[arg-type]
    with pytest.raises(RateCardError, match="≥ 0"):
        Rate("BR", "marketing", "USD", Decimal("-1"), date(2024, 11, 1))
    with pytest.raises(RateCardError, match="currency"):
        Rate("BR", "marketing", "usd", Decimal("1"), date(2024, 11, 1))
    with pytest.raises(RateCardError, match="alpha-2"):
        RateCard([], {"USA": "North America"})
