"""Rate cards from files: a tenant's own CSV, or the example card shipped with wawindow.

The example card (``wawindow/data/example_rate_card.csv``) holds example prices for
trying wawindow, not Meta's current prices: load your own from Meta's rate card.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from wawindow.domain.rate_card import RateCard, RateCardError, parse_rate_card_csv

EXAMPLE_RATE_CARD = "example_rate_card.csv"


def load_rate_card(path: Path) -> RateCard:
    """Read a rate card CSV file (UTF-8, a BOM is fine).

    Raises :class:`RateCardError` naming the file, row and column of a bad row,
    and ``OSError`` when the file can't be read.
    """
    text = path.read_text(encoding="utf-8-sig")
    try:
        return parse_rate_card_csv(text)
    except RateCardError as error:
        raise error.in_source(str(path)) from error


def example_rate_card_text() -> str:
    """The CSV text of the packaged example card (with its "example prices" notice)."""
    return resources.files("wawindow.data").joinpath(EXAMPLE_RATE_CARD).read_text(encoding="utf-8")


@cache
def example_rate_card() -> RateCard:
    """The packaged example card: example prices for trying wawindow, not Meta's prices."""
    return parse_rate_card_csv(example_rate_card_text())
