"""Rate cards from files and the packaged example card."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from wawindow.adapters.rate_card_files import (
    example_rate_card,
    example_rate_card_text,
    load_rate_card,
)
from wawindow.domain.categories import Category
from wawindow.domain.rate_card import RateCardError


def test_the_example_card_is_marked_as_example_prices() -> None:
    head = "\n".join(example_rate_card_text().splitlines()[:5])
    assert head.startswith("# EXAMPLE RATE CARD")
    assert "NOT Meta's current prices" in head
    assert "Load your" in head
    assert "Meta's published rate card" in head


def test_the_example_card_loads() -> None:
    card = example_rate_card()
    assert card.currencies == ("USD",)
    markets = {rate.market for rate in card.rates}
    assert {"North America", "BR", "IN", "DE", "GB", "ZA", "Rest of Western Europe", "*"} <= markets
    assert card.market_of_country("US") == "North America"
    assert card.market_of_country("AT") == "Rest of Western Europe"
    assert all(rate.effective_from >= date(2024, 11, 1) for rate in card.rates)
    assert any(rate.effective_from == date(2025, 7, 1) for rate in card.rates)
    assert example_rate_card() is card, "parsed once"


@pytest.mark.parametrize("country", ["US", "CA", "BR", "IN", "DE", "GB", "ZA", "AT", "FR", "JP"])
@pytest.mark.parametrize(
    "category",
    [
        Category.MARKETING,
        Category.MARKETING_LITE,
        Category.UTILITY,
        Category.AUTHENTICATION,
        Category.AUTHENTICATION_INTERNATIONAL,
        Category.SERVICE,
    ],
)
def test_the_example_card_prices_every_market_and_category(country: str, category: str) -> None:
    for on in (date(2024, 11, 1), date(2025, 7, 1), date(2026, 10, 1)):
        rate = example_rate_card().price(country, category, on)
        assert rate is not None
        assert rate.currency == "USD"
        assert Decimal(0) <= rate.price < Decimal("0.2")


def test_the_example_card_is_dated() -> None:
    card = example_rate_card()
    before = card.price("US", "utility", date(2025, 6, 30))
    after = card.price("US", "utility", date(2025, 7, 1))
    assert before is not None
    assert after is not None
    assert (before.price, after.price) == (Decimal("0.0040"), Decimal("0.0034"))
    assert card.price("US", "utility", date(2024, 10, 31)) is None


def test_load_rate_card_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "card.csv"
    path.write_text(
        "\ufeff# mine\nmarket,category,currency,price,effective_from\n"
        "MX,marketing,USD,0.0436,2025-07-01\n",
        encoding="utf-8",
    )
    rate = load_rate_card(path).price("MX", "marketing", date(2025, 7, 1))
    assert rate is not None
    assert rate.price == Decimal("0.0436")


def test_load_rate_card_names_the_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "market,category,currency,price,effective_from\nMX,marketing,USD,cheap,2025-07-01\n",
        encoding="utf-8",
    )
    with pytest.raises(RateCardError) as caught:
        load_rate_card(path)
    error = caught.value
    assert (error.row, error.column, error.source) == (2, "price", str(path))
    assert str(path) in str(error)
    assert "row 2, column price" in str(error)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_rate_card(tmp_path / "nope.csv")
