"""``wawindow ratecard load|show``: a tenant's rate card (the prices of DESIGN 1.7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.adapters.rate_card_files import example_rate_card, load_rate_card
from wawindow.domain.rate_card import RateCard, RateCardError
from wawindow.entrypoints.cli_admin import services
from wawindow.service.billing import replace_rate_card
from wawindow.service.tenants import TenantError

app = typer.Typer(
    help="Rate cards: the price of a message per market, category and date.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


def _fail(error: Exception | str) -> typer.Exit:
    err.print(f"[red]{error}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _card(file: Path | None, example: bool) -> RateCard:
    if example == (file is not None):
        err.print("[red]give either FILE or --example[/red]", highlight=False)
        raise typer.Exit(2)
    if file is None:
        return example_rate_card()
    try:
        return load_rate_card(file)
    except RateCardError as error:
        raise _fail(error) from error
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"rate card {file}: can't be read ({error})") from error


@app.command("load")
def load(
    tenant: Annotated[str, typer.Option(help="The tenant id.")],
    file: Annotated[
        Path | None,
        typer.Argument(
            help="CSV: market,category,currency,price,effective_from[,countries].",
            dir_okay=False,
        ),
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Load the bundled EXAMPLE card (not Meta's prices).")
    ] = False,
) -> None:
    """Replace the tenant's rate card with the rows of FILE (or the example card).

    The whole card is replaced in one transaction: rows not in FILE are gone. A bad
    row is reported with its line number and column, and nothing is changed.
    """
    card = _card(file, example)
    try:
        with SqlRateStore(services().engine) as store:
            count = replace_rate_card(store, tenant, card)
    except (TenantError, RateCardError) as error:
        raise _fail(error) from error
    source = "the EXAMPLE card (example prices, not Meta's)" if file is None else str(file)
    markets = len({rate.market for rate in card.rates})
    out.print(
        f"rate card of tenant {tenant}: {count} rates in {markets} markets, "
        f"{', '.join(card.currencies) or 'no currency'}, from {source}",
        highlight=False,
    )


@app.command("show")
def show(tenant: Annotated[str, typer.Option(help="The tenant id.")]) -> None:
    """Print the tenant's rate card."""
    with SqlRateStore(services().engine, read_only=True) as store:
        card = store.rate_card(tenant)
    if not card.rates:
        out.print(f"tenant {tenant} has no rate card (load one with `wawindow ratecard load`)")
        return
    table = Table("market", "category", "currency", "price", "effective from", "countries")
    countries: dict[str, list[str]] = {}
    for country, market in card.countries:
        countries.setdefault(market, []).append(country)
    for rate in card.rates:
        table.add_row(
            rate.market,
            rate.category,
            rate.currency,
            format(rate.price, "f"),
            rate.effective_from.isoformat(),
            " ".join(countries.get(rate.market, [])),
        )
    out.print(table)
