"""The rate card: what one message (or CBP conversation) costs, by market, category and date.

A rate card is data, not code: rows of ``(market, category, currency, price,
effective_from)``. Meta prices by *market*: some markets are one country (``BR``,
``IN``), others are named groups of countries ("North America", "Rest of Africa").
A card maps those countries to their named market, and may have a default market
``*`` for every country it does not name.

Looking up a price (:meth:`RateCard.price`) walks two fallback chains, the market
one outside, the category one inside:

1. markets: the key as given (a country code or a market name), then the named
   market the country belongs to (if the key is a country the card maps), then
   the default market ``*``;
2. categories, within each market: the exact category first, then its price
   family (``marketing_lite`` → ``marketing``,
   ``authentication_international`` → ``authentication``) when the market has no
   row for the exact category on that date.

So a market's own price for the family beats the default market's price for the
exact category: the country decides the price, the category only picks the row.
In each candidate the row in force is the one with the latest
``effective_from`` ≤ the day asked for (the boundary day is inclusive); a
candidate whose rows all start later is skipped like a missing one, so a market
added to the card later is priced by its fallback before that date. No row at all
→ ``None``.

Several currencies may coexist (Meta publishes one card per billing currency);
a lookup uses one currency: the one asked for, else :attr:`RateCard.default_currency`
— the card's only currency, or the first in alphabetical order when there are
several. Prices are :class:`~decimal.Decimal`, never float.

:func:`parse_rate_card_csv` reads the CSV form (see its docstring).
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from wawindow.domain.categories import normalise_category, price_family

DEFAULT_MARKET = "*"
"""The market that prices every country the card does not name."""

REQUIRED_COLUMNS = ("market", "category", "currency", "price", "effective_from")
OPTIONAL_COLUMNS = ("countries",)

_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY_SEPARATORS = re.compile(r"[\s|,;]+")


class RateCardError(ValueError):
    """A rate card that can't be used; ``row`` and ``column`` say where, when known.

    ``row`` is the 1-based line number in the CSV text (comments and the header
    count), as an editor shows it; ``source`` names the file, when there is one.
    """

    def __init__(
        self,
        message: str,
        row: int | None = None,
        column: str | None = None,
        source: str | None = None,
    ) -> None:
        where = [f"row {row}"] if row is not None else []
        if row is not None and column is not None:
            where.append(f"column {column}")
        prefix = "rate card" + (f" {source}" if source else "")
        location = (": " + ", ".join(where)) if where else ""
        super().__init__(f"{prefix}{location}: {message}")
        self.reason = message
        self.row = row
        self.column = column
        self.source = source

    def in_source(self, source: str) -> RateCardError:
        """The same error, naming the file (or other source) it came from."""
        return RateCardError(self.reason, self.row, self.column, source)


@dataclass(frozen=True, slots=True)
class Rate:
    """One row of a rate card: the price of one message of ``category`` in ``market``."""

    market: str
    category: str
    currency: str
    price: Decimal
    effective_from: date

    def __post_init__(self) -> None:
        if not isinstance(self.price, Decimal):
            raise TypeError(f"rate price must be a Decimal, not {type(self.price).__name__}")
        if not self.price.is_finite() or self.price < 0:
            raise RateCardError(f"price must be a number ≥ 0, not {self.price}")
        if not _CURRENCY.fullmatch(self.currency):
            raise RateCardError(f"currency must be 3 upper-case letters, not {self.currency!r}")


def market_key(market: str) -> str:
    """How markets compare: ``us`` is ``US``, "north america" is "North America"."""
    return " ".join(market.split()).casefold()


_IndexKey = tuple[str, str, str]  # (market_key, category, currency)


@dataclass(frozen=True, slots=True, init=False)
class RateCard:
    """An immutable set of dated rates plus the countries of named markets.

    Build it with ``RateCard(rates, countries)`` where ``countries`` maps ISO
    alpha-2 codes to a named market (``{"NG": "Rest of Africa"}``).
    """

    rates: tuple[Rate, ...]
    countries: tuple[tuple[str, str], ...]
    _index: dict[_IndexKey, tuple[Rate, ...]] = field(repr=False, compare=False, hash=False)
    _country_market: dict[str, str] = field(repr=False, compare=False, hash=False)

    def __init__(self, rates: Iterable[Rate] = (), countries: Mapping[str, str] | None = None):
        ordered = tuple(sorted(rates, key=_rate_order))
        mapping = {_country_code(code): market for code, market in (countries or {}).items()}
        object.__setattr__(self, "rates", ordered)
        object.__setattr__(self, "countries", tuple(sorted(mapping.items())))
        object.__setattr__(self, "_index", _build_index(ordered))
        object.__setattr__(self, "_country_market", mapping)

    @property
    def currencies(self) -> tuple[str, ...]:
        """The currencies of the card, in alphabetical order."""
        return tuple(sorted({rate.currency for rate in self.rates}))

    @property
    def default_currency(self) -> str | None:
        """The currency used when a lookup names none: the only one, else the first by name."""
        currencies = self.currencies
        return currencies[0] if currencies else None

    def market_of_country(self, country: str) -> str | None:
        """The named market a country belongs to on this card, if the card names one."""
        return self._country_market.get(country.strip().upper())

    def market_chain(self, market_or_country: str | None) -> tuple[str, ...]:
        """The markets tried for a key, most specific first (see the module docstring)."""
        chain: list[str] = []
        if market_or_country is not None and market_or_country.strip():
            key = market_or_country.strip()
            chain.append(key)
            named = self.market_of_country(key)
            if named is not None:
                chain.append(named)
        chain.append(DEFAULT_MARKET)
        unique: dict[str, str] = {}
        for market in chain:
            unique.setdefault(market_key(market), market)
        return tuple(unique.values())

    def price(
        self,
        market_or_country: str | None,
        category: str,
        on: date,
        currency: str | None = None,
    ) -> Rate | None:
        """The rate in force on ``on`` for a market (or country) and category, or ``None``.

        ``market_or_country`` ``None`` (market unknown) goes straight to ``*``.
        """
        wanted = currency.strip().upper() if currency else self.default_currency
        exact = normalise_category(category)
        if wanted is None or exact is None:
            return None
        categories = dict.fromkeys((exact, price_family(exact)))
        for market in self.market_chain(market_or_country):
            for cat in categories:
                rate = _in_force(self._index.get((market_key(market), cat, wanted), ()), on)
                if rate is not None:
                    return rate
        return None


def _rate_order(rate: Rate) -> tuple[str, str, str, date]:
    return (market_key(rate.market), rate.category, rate.currency, rate.effective_from)


def _country_code(code: str) -> str:
    cleaned = code.strip()
    if not _COUNTRY.fullmatch(cleaned):
        raise RateCardError(f"country must be an ISO alpha-2 code, not {code!r}")
    return cleaned.upper()


def _build_index(rates: tuple[Rate, ...]) -> dict[_IndexKey, tuple[Rate, ...]]:
    """Rates per (market, category, currency), sorted by date; two rows for one day clash."""
    index: dict[_IndexKey, list[Rate]] = {}
    for rate in rates:
        rows = index.setdefault((market_key(rate.market), rate.category, rate.currency), [])
        if rows and rows[-1].effective_from == rate.effective_from:
            raise RateCardError(
                f"two rates for {rate.market} / {rate.category} / {rate.currency} "
                f"effective from {rate.effective_from.isoformat()}"
            )
        rows.append(rate)
    return {key: tuple(rows) for key, rows in index.items()}


def _in_force(rows: tuple[Rate, ...], on: date) -> Rate | None:
    position = bisect_right(rows, on, key=lambda rate: rate.effective_from)
    return rows[position - 1] if position else None


# --------------------------------------------------------------------------- CSV


def parse_rate_card_csv(text: str) -> RateCard:
    """Read a rate card from CSV text.

    The header is ``market,category,currency,price,effective_from[,countries]`` (any
    order, any case). Lines whose first non-blank character is ``#`` are comments;
    blank lines are skipped. ``price`` is a decimal number ≥ 0 (read as
    ``Decimal``), ``currency`` three upper-case letters (``USD``),
    ``effective_from`` a ``YYYY-MM-DD`` day, ``category`` any category spelling
    (``UTILITY``, ``authentication-international``). ``countries``, when given,
    lists the ISO alpha-2 codes of a named market, separated by spaces or ``|``;
    it may be given on any or all rows of that market. A quoted value can't span
    lines. Any bad row raises :class:`RateCardError` naming the row (line number)
    and the column.
    """
    rows = _data_lines(text)
    if not rows:
        raise RateCardError("has no header line (expected: " + ",".join(REQUIRED_COLUMNS) + ")")
    header_line, header_text = rows[0]
    columns = _parse_header(header_text, header_line)
    rates: list[Rate] = []
    countries: dict[str, tuple[str, int]] = {}
    seen: dict[tuple[str, str, str, date], int] = {}
    for line_no, line in rows[1:]:
        values = _split_row(line, columns, line_no)
        rate = _parse_rate(values, line_no)
        key = (market_key(rate.market), rate.category, rate.currency, rate.effective_from)
        if key in seen:
            raise RateCardError(
                f"duplicates row {seen[key]} (same market, category, currency and date)",
                line_no,
                "effective_from",
            )
        seen[key] = line_no
        _add_countries(countries, values.get("countries", ""), rate.market, line_no)
        rates.append(rate)
    return RateCard(rates, {code: market for code, (market, _) in countries.items()})


def _data_lines(text: str) -> list[tuple[int, str]]:
    lines = text.removeprefix("\ufeff").splitlines()
    return [
        (number, line)
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([line]))]


def _parse_header(line: str, line_no: int) -> tuple[str, ...]:
    columns = tuple(cell.lower() for cell in _cells(line))
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    for column in columns:
        if column not in known:
            raise RateCardError(
                f"unknown column {column!r} in the header (expected: {', '.join(known)})",
                line_no,
                column or None,
            )
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise RateCardError(f"the header has no {column!r} column", line_no, column)
    if len(set(columns)) != len(columns):
        raise RateCardError("the header names a column twice", line_no)
    return columns


def _split_row(line: str, columns: tuple[str, ...], line_no: int) -> dict[str, str]:
    cells = _cells(line)
    if len(cells) > len(columns):
        raise RateCardError(
            f"has {len(cells)} values but the header has {len(columns)} columns", line_no
        )
    values = dict(zip(columns, cells, strict=False))
    for column in columns:
        if column in REQUIRED_COLUMNS and not values.get(column):
            raise RateCardError("value is missing", line_no, column)
    return values


def _parse_rate(values: Mapping[str, str], line_no: int) -> Rate:
    category = normalise_category(values["category"])
    if category is None:  # pragma: no cover - _split_row rejects empty values
        raise RateCardError("value is missing", line_no, "category")
    return Rate(
        market=" ".join(values["market"].split()),
        category=category,
        currency=_parse_currency(values["currency"], line_no),
        price=_parse_price(values["price"], line_no),
        effective_from=_parse_day(values["effective_from"], line_no),
    )


def _parse_currency(value: str, line_no: int) -> str:
    if not _CURRENCY.fullmatch(value):
        raise RateCardError(
            f"{value!r} is not a currency code (3 upper-case letters, e.g. USD)",
            line_no,
            "currency",
        )
    return value


def _parse_price(value: str, line_no: int) -> Decimal:
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise RateCardError(f"{value!r} is not a decimal number", line_no, "price") from None
    if not price.is_finite():
        raise RateCardError(f"{value!r} is not a decimal number", line_no, "price")
    if price < 0:
        raise RateCardError(f"{value} is negative; prices are ≥ 0", line_no, "price")
    return price


def _parse_day(value: str, line_no: int) -> date:
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise RateCardError(
            f"{value!r} is not a date (expected YYYY-MM-DD)", line_no, "effective_from"
        ) from None


def _add_countries(
    countries: dict[str, tuple[str, int]], value: str, market: str, line_no: int
) -> None:
    """Record the countries a row lists for its market; one country, one named market."""
    codes = [code for code in _COUNTRY_SEPARATORS.split(value) if code]
    if codes and market == DEFAULT_MARKET:
        raise RateCardError("the default market '*' can't list countries", line_no, "countries")
    for code in codes:
        if not _COUNTRY.fullmatch(code):
            raise RateCardError(
                f"{code!r} is not an ISO alpha-2 country code", line_no, "countries"
            )
        known = countries.setdefault(code.upper(), (market, line_no))
        if market_key(known[0]) != market_key(market):
            raise RateCardError(
                f"{code.upper()} is already in market {known[0]!r} (row {known[1]})",
                line_no,
                "countries",
            )


@dataclass(frozen=True, slots=True)
class Cost:
    """What one billed message costs: its market, price and currency (``price`` 0 when free)."""

    market: str | None
    price: Decimal | None
    currency: str | None


def cost_of(card: RateCard, market: str | None, category: str, billable: bool, on: date) -> Cost:
    """The cost of a message under ``card``; ``price`` is ``None`` when the card has no rate."""
    if not billable:
        return Cost(market, Decimal(0), card.default_currency)
    rate = card.price(market, category, on)
    if rate is None:
        return Cost(market, None, card.default_currency)
    return Cost(market, rate.price, rate.currency)
