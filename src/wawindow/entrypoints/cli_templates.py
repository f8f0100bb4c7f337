"""``wawindow templates import``: load a line's templates from WhatsApp's template listing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wawindow.adapters.db.template_store import SqlTemplateStore
from wawindow.bootstrap import utc_now
from wawindow.entrypoints.cli_admin import services
from wawindow.service.templates_registry import (
    LineNotFound,
    import_templates,
    parse_listing,
)

app = typer.Typer(help="Message templates of the business lines.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

EXIT_FAILED = 1


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help='The JSON of GET /<WABA_ID>/message_templates: {"data": [...]} or a list.',
            exists=True,
            dir_okay=False,
        ),
    ],
    phone_number_id: Annotated[
        str, typer.Option(help="The line the templates are for (it decides the tenant).")
    ],
) -> None:
    """Add or update every template of FILE on the line.

    Each entry needs a name and a language; status, category, id, the BODY
    component's text (param_count is counted from it) and quality_score are
    taken when present. A malformed entry is reported with its index and
    skipped; the exit code is then 1.
    """
    try:
        document = json.loads(file.read_bytes())
        templates, errors = parse_listing(document)
    except (ValueError, UnicodeDecodeError) as error:
        err.print(f"[red]{file}: not a template listing: {error}[/red]", highlight=False)
        raise typer.Exit(EXIT_FAILED) from error
    for entry in errors:
        err.print(
            f"[red]{file}: entry {entry.index}: skipped: {entry.message}[/red]",
            highlight=False,
            soft_wrap=True,
        )
    try:
        with SqlTemplateStore(services().engine) as store:
            result = import_templates(store, phone_number_id, templates, utc_now())
    except LineNotFound as error:
        err.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(EXIT_FAILED) from error
    skipped = f", {len(errors)} skipped" if errors else ""
    out.print(
        f"line {phone_number_id}: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged{skipped}",
        highlight=False,
    )
    if errors:
        raise typer.Exit(EXIT_FAILED)
