"""``wawindow sandbox``: run the local stand-in for the WhatsApp Cloud API."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from wawindow.domain.times import iso_z, parse_iso
from wawindow.entrypoints.sandbox.app import create_sandbox_app
from wawindow.entrypoints.sandbox.clock import parse_duration
from wawindow.entrypoints.sandbox.sandbox import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_DISPLAY_PHONE_NUMBER,
    Sandbox,
    SandboxSettings,
)
from wawindow.service.templates_registry import parse_listing

out = Console()

DEFAULT_PORT = 8090


def _duration(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}") from error


def _listing(path: Path | None) -> tuple[object, ...]:
    if path is None:
        return ()
    try:
        document: object = json.loads(path.read_bytes())
        _, errors = parse_listing(document)
    except (ValueError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"not a template listing: {error}") from error
    for entry in errors:
        out.print(f"[yellow]{path}: entry {entry.index} skipped: {entry.message}[/yellow]")
    return (document,)


def sandbox(
    webhook_url: Annotated[
        str, typer.Option(help="Where to post the webhooks (e.g. wawindow's /webhooks/meta).")
    ],
    app_secret: Annotated[str, typer.Option(help="The app secret that signs every webhook.")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    seed: Annotated[
        int | None, typer.Option(help="Same seed, same requests: same ids and bodies.")
    ] = None,
    time_offset: Annotated[
        str, typer.Option(help="Start the clock this far from now: 24h, -3d, 90m, 1d12h.")
    ] = "0s",
    start_at: Annotated[
        str | None, typer.Option(help="Start the clock at this instant (ISO 8601) instead.")
    ] = None,
    frozen_clock: Annotated[
        bool, typer.Option(help="Keep the clock still; it moves only by POST /sandbox/clock.")
    ] = False,
    status_delay: Annotated[
        float, typer.Option(min=0.0, help="Seconds between a send and each of its statuses.")
    ] = 0.2,
    access_token: Annotated[
        str | None, typer.Option(help="Accept only this bearer token (any when not given).")
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option(
            help='Templates: WhatsApp\'s listing JSON {"data": [...]}.',
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    display_phone_number: Annotated[
        str, typer.Option(help="metadata.display_phone_number of every line.")
    ] = DEFAULT_DISPLAY_PHONE_NUMBER,
    waba_id: Annotated[
        str, typer.Option(help="The WhatsApp Business Account id (the entry id).")
    ] = DEFAULT_ACCOUNT_ID,
    webhook_attempts: Annotated[
        int, typer.Option(min=1, help="Tries per webhook while the receiver is down.")
    ] = 5,
) -> None:
    """Serve the WhatsApp Cloud API locally: sends, statuses, inbound messages, calls.

    Sends go to http://HOST:PORT/v23.0/<phone_number_id>/messages (any version);
    signed webhooks go to --webhook-url. See docs/sandbox.md.
    """
    settings = SandboxSettings(
        webhook_url=webhook_url,
        app_secret=app_secret,
        access_token=access_token,
        seed=seed,
        time_offset=_duration(time_offset),
        start_at=_instant(start_at),
        frozen_clock=frozen_clock,
        status_delay=status_delay,
        display_phone_number=display_phone_number,
        account_id=waba_id,
        webhook_attempts=webhook_attempts,
        templates=_listing(templates),
    )
    world = Sandbox(settings)
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    out.print(f"WhatsApp sandbox on [bold]http://{shown}:{port}[/bold] (seed {world.ids.seed})")
    out.print(f"send to:   http://{shown}:{port}/v23.0/<phone_number_id>/messages")
    out.print(f"webhooks:  {webhook_url}")
    frozen = " (frozen)" if world.clock.frozen else ""
    out.print(f"clock:     {iso_z(world.clock.now())}{frozen}")
    out.print(f"API docs:  http://{shown}:{port}/docs")
    uvicorn.run(create_sandbox_app(world), host=host, port=port, log_level="warning")
