"""``wawindow worker``: the background jobs alone, for scaling out beside ``serve`` processes."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from wawindow.entrypoints.cli_admin import services
from wawindow.entrypoints.worker import worker_loop

out = Console()


def worker(
    idle_seconds: Annotated[
        float | None,
        typer.Option(
            min=0.01, max=5.0, help="Sleep when idle (default WAWINDOW_WORKER_IDLE_SECONDS, 0.5)."
        ),
    ] = None,
) -> None:
    """Run the scheduler until SIGTERM or SIGINT (migrates the database first).

    Several workers (and serve processes) may share one PostgreSQL: each takes
    due events the others have not. On SQLite they take turns."""
    svc = services()
    logging.basicConfig(
        level=svc.settings.log_level.upper().replace("TRACE", "DEBUG"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    loop = worker_loop(svc)
    if idle_seconds is not None:
        loop.idle_seconds = idle_seconds
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("wawindow.worker").info("%s: stopping", signal.Signals(signum).name)
        stop.set()  # the tick in progress finishes and commits first

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    out.print(f"wawindow worker on [bold]{svc.engine.url.render_as_string(hide_password=True)}")
    try:
        loop.run(stop)
    finally:
        svc.engine.dispose()
