"""The ``wawindow`` command."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wawindow.adapters.markets import market_of
from wawindow.adapters.ndjson_log import LineError, read_log
from wawindow.adapters.rate_card_files import example_rate_card, load_rate_card
from wawindow.domain.facts import Fact
from wawindow.domain.rate_card import Cost, RateCard, RateCardError, cost_of
from wawindow.domain.thread_view import MessageView, ThreadView
from wawindow.domain.times import parse_iso
from wawindow.entrypoints import (
    cli_admin,
    cli_demo,
    cli_ratecard,
    cli_sandbox,
    cli_serve,
    cli_templates,
    cli_worker,
)
from wawindow.entrypoints.replay_render import Costing, print_tables, replay_document
from wawindow.service.replay import replay as replay_facts

app = typer.Typer(
    name="wawindow",
    help="WhatsApp windows, conversations and costs, computed from the facts.",
    no_args_is_help=True,
    add_completion=False,
)

EXIT_SKIPPED_LINES = 1


@app.callback()
def _root() -> None:
    """WhatsApp windows, conversations and costs, computed from the facts."""


def _parse_at(value: str) -> datetime:
    try:
        return parse_iso(value)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r} ({error})") from error


def _costing(rate_card: Path | None, use_example: bool) -> Costing | None:
    card: RateCard
    if rate_card is not None:
        try:
            card = load_rate_card(rate_card)
        except RateCardError as error:
            raise typer.BadParameter(str(error), param_hint="--rate-card") from error
    elif use_example:
        card = example_rate_card()
    else:
        return None

    def cost(thread: ThreadView, message: MessageView) -> Cost | None:
        billing, record = message.billing, message.record
        when = record.delivered_at or record.at
        if billing is None or when is None:
            return None
        who = thread.contact.wa_id or thread.contact.bsuid
        market = market_of(who) if who else None
        return cost_of(card, market, billing.category, billing.billable, when.date())

    return cost


@app.command()
def replay(
    file: Annotated[
        Path,
        typer.Argument(
            help="NDJSON: webhook bodies and outbound send records.", exists=True, dir_okay=False
        ),
    ],
    at: Annotated[
        str, typer.Option("--at", help="The instant to show, ISO 8601 (e.g. 2026-11-21T12:00:00Z).")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON document instead of tables.")
    ] = False,
    rate_card: Annotated[
        Path | None,
        typer.Option(help="A rate card CSV: adds market, price and currency to billing."),
    ] = None,
    example_rate_card: Annotated[
        bool, typer.Option(help="Price with the bundled EXAMPLE rate card (not Meta's prices).")
    ] = False,
) -> None:
    """Fold the facts in FILE and show every thread as it stands at --at.

    Offline: no database, no network. Lines may be in any order. A line that
    cannot be read is reported on stderr with its number and skipped; the exit
    code is then 1.
    """
    instant = _parse_at(at)
    costing = _costing(rate_card, example_rate_card)
    facts: list[Fact] = []
    errors: list[LineError] = []
    with file.open("rb") as handle:
        for item in read_log(handle):
            if isinstance(item, LineError):
                errors.append(item)
            else:
                facts.extend(item.facts)
    result = replay_facts(facts, instant)
    err = Console(stderr=True)
    for error in errors:
        err.print(
            f"[red]{file}:{error.line_number}: skipped: {error.message}[/red]",
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        document = replay_document(result, costing)
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        print_tables(result, Console())
    if errors:
        raise typer.Exit(EXIT_SKIPPED_LINES)


app.add_typer(cli_admin.tenant_app, name="tenant")
app.add_typer(cli_admin.line_app, name="line")
app.add_typer(cli_admin.key_app, name="key")
app.add_typer(cli_templates.app, name="templates")
app.add_typer(cli_ratecard.app, name="ratecard")
app.command("migrate")(cli_admin.migrate)
app.command("serve")(cli_serve.serve)
app.command("import")(cli_serve.import_log)
app.command("sandbox")(cli_sandbox.sandbox)
app.command("worker")(cli_worker.worker)
app.command("demo")(cli_demo.demo)


def main() -> None:
    app()
