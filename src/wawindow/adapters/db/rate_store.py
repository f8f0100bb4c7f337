"""A tenant's rate card on SQL: ``rates`` (dated prices) and ``rate_markets`` (countries).

Loading a card replaces the tenant's whole card in one transaction, so a reader
sees the old card or the new one, never a mix. Prices are ``Decimal`` both ways
(``NUMERIC(18, 6)``; read back without trailing zeros, ``0.0625`` not ``0.062500``).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, delete, insert, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.domain.rate_card import Rate, RateCard


def _plain(price: Decimal) -> Decimal:
    """``0.062500`` → ``0.0625``, ``10.000000`` → ``10`` (never ``1E+1``)."""
    return Decimal(format(price.normalize(), "f"))


class SqlRateStore(Transaction):
    """Reads and replaces rate cards; ``read_only`` reads without taking SQLite's write lock."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        super().__init__(engine.execution_options(sqlite_begin="DEFERRED") if read_only else engine)

    def tenant_exists(self, tenant_id: str) -> bool:
        query = select(t.tenants.c.id).where(t.tenants.c.id == tenant_id)
        return self._conn.execute(query).first() is not None

    def rate_card(self, tenant_id: str) -> RateCard:
        r, k = t.rates.c, t.rate_markets.c
        rows = self._conn.execute(select(t.rates).where(r.tenant_id == tenant_id)).all()
        rates = [
            Rate(row.market, row.category, row.currency, _plain(row.price), row.effective_from)
            for row in rows
        ]
        markets = self._conn.execute(
            select(k.country, k.market).where(k.tenant_id == tenant_id)
        ).all()
        return RateCard(rates, {row.country: row.market for row in markets})

    def replace_rate_card(self, tenant_id: str, card: RateCard) -> None:
        self._conn.execute(delete(t.rates).where(t.rates.c.tenant_id == tenant_id))
        self._conn.execute(delete(t.rate_markets).where(t.rate_markets.c.tenant_id == tenant_id))
        rates = [
            {
                "tenant_id": tenant_id,
                "market": rate.market,
                "category": rate.category,
                "currency": rate.currency,
                "effective_from": rate.effective_from,
                "price": rate.price,
            }
            for rate in card.rates
        ]
        if rates:
            self._conn.execute(insert(t.rates), rates)
        countries = [
            {"tenant_id": tenant_id, "country": country, "market": market}
            for country, market in card.countries
        ]
        if countries:
            self._conn.execute(insert(t.rate_markets), countries)
