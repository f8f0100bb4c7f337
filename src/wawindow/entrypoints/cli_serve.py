"""``wawindow serve`` and ``wawindow import``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import Progress

from wawindow.adapters.ndjson_log import LineError, read_log
from wawindow.bootstrap import utc_now
from wawindow.config import load_settings
from wawindow.entrypoints.cli_admin import services

out = Console()


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Do not run the scheduler in these processes (run `wawindow worker` instead).",
        ),
    ] = False,
) -> None:
    """Run the HTTP API and webhook receiver (migrates the database first), and the
    scheduler in a background thread of each process unless --no-worker."""
    if no_worker:
        # The app is built in uvicorn's processes, from the environment.
        os.environ["WAWINDOW_WORKER"] = "0"
    settings = load_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    svc = services()  # creates and migrates the database before any worker starts
    svc.engine.dispose()
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    out.print(f"wawindow on [bold]{svc.engine.url.render_as_string(hide_password=True)}[/bold]")
    out.print(f"API docs:  http://{shown}:{port}/docs")
    out.print(f"webhooks:  http://{shown}:{port}/webhooks/meta")
    if settings.worker:
        out.print("scheduler: in each serve process (--no-worker to leave it to `wawindow worker`)")
    else:
        out.print("scheduler: not in these processes; run `wawindow worker`")
    uvicorn.run(
        "wawindow.entrypoints.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
    )


def import_log(
    file: Annotated[
        Path, typer.Argument(help="NDJSON of webhook bodies.", exists=True, dir_okay=False)
    ],
) -> None:
    """Backfill from a log of webhook bodies: the same result as receiving them live."""
    svc = services()
    lines = file.read_bytes().splitlines()
    errors: list[LineError] = []
    stored = duplicates = 0
    with Progress(console=out) as progress:
        task = progress.add_task("importing", total=len(lines))
        for number, raw in enumerate(lines, start=1):
            progress.advance(task)
            for item in read_log([raw]):
                if isinstance(item, LineError):
                    errors.append(LineError(number, item.message))
                    continue
                with svc.ingest_store() as store:
                    outcome = svc.ingestor.ingest(store, "meta", raw, item.facts, (), utc_now())
                duplicates += outcome.duplicate
                stored += outcome.stored
    for error in errors:
        out.print(
            f"[red]{file}:{error.line_number}: skipped: {error.message}[/red]", soft_wrap=True
        )
    out.print(
        f"{stored} new facts from {len(lines) - len(errors)} lines ({duplicates} seen before)"
    )
    if errors:
        raise typer.Exit(1)
