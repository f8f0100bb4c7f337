"""``wawindow demo``: serve and the sandbox wired together, and three customers to watch.

The demo makes (or finds again) a demo tenant, its line and a new API key in the
database, starts ``wawindow serve`` and ``wawindow sandbox`` as child processes —
serve follows the sandbox's clock, the sandbox posts its webhooks to serve and the
line sends to the sandbox — and plays the story of ``demo.story`` through their
HTTP APIs, printing each customer's session status after every step. See
docs/demo.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Final

import httpx
import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from wawindow.bootstrap import utc_now
from wawindow.config import ConfigError
from wawindow.domain.times import iso_z, parse_iso
from wawindow.entrypoints.demo import account as accounts
from wawindow.entrypoints.demo.account import AccountError, DemoAccount
from wawindow.entrypoints.demo.children import (
    HOST,
    Child,
    ChildFailed,
    check_alive,
    port_taken,
    start_child,
    stop_all,
    wait_ready,
)
from wawindow.entrypoints.demo.clients import SandboxApi, UnexpectedAnswer, WawindowApi
from wawindow.entrypoints.demo.player import Player
from wawindow.entrypoints.demo.story import CUSTOMERS, QUINN, STEPS

out = Console()
err = Console(stderr=True)

DEFAULT_PORT: Final = 8080
DEFAULT_SANDBOX_PORT: Final = 8090
DEFAULT_DATABASE: Final = "sqlite:///./wawindow-demo.db"
RERUN_GAP: Final = timedelta(days=8)
"""A rerun starts this long after the last message of the earlier run, when every
window, free entry point (7 days at most) and conversation of it has ended."""
STATUS_DELAY: Final = "0.05"
EXIT_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop the children and leave."""


def demo(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of wawindow serve.")] = (
        DEFAULT_PORT
    ),
    sandbox_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help=f"Port of the sandbox [default: {DEFAULT_SANDBOX_PORT}, or the port an "
            "earlier run on this database used].",
            show_default=False,
        ),
    ] = None,
    database: Annotated[
        str, typer.Option(help="The database (SQLAlchemy URL); a rerun reuses its demo tenant.")
    ] = DEFAULT_DATABASE,
    pace: Annotated[
        float, typer.Option(min=0.0, help="Scales the pauses between steps (0: no pauses).")
    ] = 1.0,
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running/--exit",
            help="After the story, keep serve and the sandbox running until Ctrl-C, or stop.",
        ),
    ] = True,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Write a summary (key, URLs, customers, what each step found) to this file.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Run serve and the sandbox wired together and play three simulated customers.

    One customer comes from an ad (free entry point), one goes quiet (window and
    conversation end, a free-form message is refused), one a template brings back.
    The sandbox's clock jumps ahead between steps, and wawindow follows it.
    """
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = _run(port, sandbox_port, database, pace, keep_running, summary)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code:
        raise typer.Exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _run(
    port: int,
    sandbox_port: int | None,
    database: str,
    pace: float,
    keep_running: bool,
    summary: Path | None,
) -> int:
    try:
        prepared = None if _taken(port) else _prepare(database, port, sandbox_port)
    except Interrupted:
        return EXIT_INTERRUPTED
    except (AccountError, ConfigError, SQLAlchemyError) as error:
        _error(str(error))
        return EXIT_FAILED
    if prepared is None:
        return EXIT_FAILED
    account, chosen = prepared
    with tempfile.TemporaryDirectory(prefix="wawindow-demo-") as logs:
        wiring = Wiring(port, chosen, database, account, Path(logs))
        return wiring.run(pace, keep_running, summary)


def _taken(port: int) -> bool:
    if port_taken(port):
        _error(f"port {port} is in use: choose another (--port, --sandbox-port)")
        return True
    return False


def _prepare(database: str, port: int, sandbox_port: int | None) -> tuple[DemoAccount, int] | None:
    """The account in the database and the sandbox's port (the one its line sends to);
    ``None`` when that port cannot be used (said on stderr)."""
    svc = accounts.open_services(database)
    try:
        line = accounts.demo_line(svc)
        earlier = accounts.sandbox_port_of(line) if line is not None else None
        chosen = sandbox_port or earlier or DEFAULT_SANDBOX_PORT
        if chosen == port:
            _error(f"serve and the sandbox cannot both use port {port}")
            return None
        if _taken(chosen):
            return None
        return accounts.prepare_account(svc, f"http://{HOST}:{chosen}"), chosen
    finally:
        svc.engine.dispose()


class Wiring:
    """The two children, wired together, and what the demo does with them."""

    def __init__(
        self, port: int, sandbox_port: int, database: str, account: DemoAccount, logs: Path
    ) -> None:
        self.port = port
        self.sandbox_port = sandbox_port
        self.database = database
        self.account = account
        self.logs = logs
        self.url = f"http://{HOST}:{port}"
        self.sandbox_url = f"http://{HOST}:{sandbox_port}"
        self.children: list[Child] = []
        self.story_done = False

    def run(self, pace: float, keep_running: bool, summary: Path | None) -> int:
        try:
            self._start()
            with self._clients() as (api, sandbox):
                player = self._play(api, sandbox, pace)
                if summary is not None:
                    _write(summary, self._summary(player))
            if keep_running:
                self._wait_for_ctrl_c()
            return 0
        except Interrupted:
            return 0 if keep_running and self.story_done else EXIT_INTERRUPTED
        except ChildFailed as failure:
            _report(failure)
            return EXIT_FAILED
        except (UnexpectedAnswer, RuntimeError, TimeoutError, httpx.HTTPError) as error:
            return self._failed(error)
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the children stop in peace
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if self.children:
                stop_all(self.children)
                out.print("serve and the sandbox are stopped.")

    def _start(self) -> None:
        env = dict(os.environ)
        env.setdefault("WAWINDOW_LOG_LEVEL", "warning")
        env.update(
            WAWINDOW_DATABASE_URL=self.database,
            WAWINDOW_HOST=HOST,
            WAWINDOW_PORT=str(self.port),
            WAWINDOW_CLOCK_URL=self.sandbox_url,
            WAWINDOW_MIGRATE_ON_START="true",
        )
        serve_args = ["--host", HOST, "--port", str(self.port)]
        sandbox_args = [
            "--host", HOST,
            "--port", str(self.sandbox_port),
            "--webhook-url", f"{self.url}/webhooks/meta",
            "--app-secret", self.account.app_secret,
            "--access-token", self.account.access_token,
            "--frozen-clock",
            "--start-at", iso_z(_whole_minute(utc_now())) or "",
            "--status-delay", STATUS_DELAY,
        ]  # fmt: skip
        out.print(f"starting wawindow serve on {self.url} and the sandbox on {self.sandbox_url}…")
        sandbox_ready, serve_ready = f"{self.sandbox_url}/sandbox/clock", f"{self.url}/readyz"
        self.children.append(start_child("sandbox", sandbox_args, env, self.logs, sandbox_ready))
        self.children.append(start_child("serve", serve_args, env, self.logs, serve_ready))
        wait_ready(self.children)

    @contextlib.contextmanager
    def _clients(self) -> Iterator[tuple[WawindowApi, SandboxApi]]:
        api = WawindowApi(self.url, self.account.api_key, self.account.phone_number_id)
        sandbox = SandboxApi(self.sandbox_url)
        try:
            yield api, sandbox
        finally:
            api.close()
            sandbox.close()

    def _play(self, api: WawindowApi, sandbox: SandboxApi, pace: float) -> Player:
        sandbox.load_templates(accounts.TEMPLATES)
        start = self._start_of_story(api, sandbox.now())
        player = Player(api, sandbox, out, start, pace, lambda: check_alive(self.children))
        player.move_clock(start)
        self._print_intro(start)
        player.play(STEPS)
        sandbox.thaw()  # from here on, time runs again
        self.story_done = True
        self._print_outro(player)
        return player

    def _start_of_story(self, api: WawindowApi, now: datetime) -> datetime:
        """Now; on a rerun, late enough that the earlier run's windows have all ended."""
        latest = api.latest_message()
        if latest is None or latest["at"] is None:
            return now
        return max(now, _whole_minute(parse_iso(latest["at"]) + RERUN_GAP))

    def _print_intro(self, start: datetime) -> None:
        account, key = self.account, self.account.api_key
        shown = f"http://localhost:{self.port}"
        sandbox = f"http://localhost:{self.sandbox_port}"
        again = " (the demo tenant of an earlier run, with a new key)" if account.reused else ""
        out.print()
        out.print(f"[bold]API key[/bold]{again}:  {key}", highlight=False, soft_wrap=True)
        out.print(f"tenant {account.tenant_id}, line {account.phone_number_id}", highlight=False)
        out.print(f"API docs:   {shown}/docs")
        out.print(f"sandbox:    {sandbox}  (its docs: {sandbox}/docs)")
        out.print(f"logs:       {self.logs}  (removed when the demo stops)")
        out.print(f"demo clock: {iso_z(start)}, frozen between steps; wawindow follows it")
        cast = ", ".join(f"{c.name} ({c.role}, {c.phone})" for c in CUSTOMERS)
        out.print(f"customers:  {cast}", highlight=False)
        out.print()
        out.print("Try, while it runs:", style="bold")
        for line in _curl_examples(shown, sandbox, key, account.phone_number_id):
            out.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)

    def _print_outro(self, player: Player) -> None:
        out.print()
        out.print(
            "The story is over; the sandbox's clock runs again from "
            f"{iso_z(player.sandbox.now())}.",
            highlight=False,
        )

    def _wait_for_ctrl_c(self) -> None:
        out.print(
            f"serve ({self.url}/docs) and the sandbox ({self.sandbox_url}) keep running, "
            f"API key {self.account.api_key}. Ctrl-C stops both.",
            highlight=False,
            soft_wrap=True,
        )
        while True:
            check_alive(self.children)
            time.sleep(0.5)

    def _failed(self, error: Exception) -> int:
        try:
            check_alive(self.children)  # a child that died explains the error best
        except ChildFailed as failure:
            _report(failure)
            return EXIT_FAILED
        _error(f"the demo failed: {error}")
        for child in self.children:
            err.print(f"--- output of wawindow {child.name}:\n{child.output()}", markup=False)
        return EXIT_FAILED

    def _summary(self, player: Player) -> dict[str, Any]:
        return {
            "tenant_id": self.account.tenant_id,
            "api_key": self.account.api_key,
            "phone_number_id": self.account.phone_number_id,
            "reused": self.account.reused,
            "wawindow_url": self.url,
            "sandbox_url": self.sandbox_url,
            "pids": {child.name: child.pid for child in self.children},
            "started_at": iso_z(player.start),
            "ended_at": iso_z(player.records[-1].at) if player.records else None,
            "customers": [row.document() for row in player.board],
            "steps": [record.document() for record in player.records],
        }


def _whole_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _curl_examples(url: str, sandbox: str, key: str, line: str) -> list[str]:
    quinn, wa_id = QUINN.phone.replace("+", "%2B"), QUINN.wa_id
    return [
        f'curl -H "X-API-Key: {key}" "{url}/v1/session-status?phone_number_id={line}'
        f'&contact_phone={quinn}"',
        f'curl -H "X-API-Key: {key}" "{url}/v1/conversations?status=active"',
        f'curl -H "X-API-Key: {key}" -H "Content-Type: application/json" {url}/v1/messages '
        f'-d \'{{"phone_number_id": "{line}", "to": "{QUINN.phone}", "text": "Hi Quinn!"}}\'',
        f'curl -H "Content-Type: application/json" {sandbox}/sandbox/inbound '
        f'-d \'{{"phone_number_id": "{line}", "from": "{wa_id}", "text": "Hello again"}}\'',
        f'curl -H "Content-Type: application/json" {sandbox}/sandbox/clock '
        "-d '{\"advance_seconds\": 86400}'",
    ]


def _report(failure: ChildFailed) -> None:
    _error(str(failure))
    err.print(f"--- its output:\n{failure.output()}", markup=False, highlight=False)


def _error(message: str) -> None:
    """A line on stderr, in red; taken as it is (an error may quote JSON with brackets)."""
    err.print(message, style="red", markup=False, highlight=False, soft_wrap=True)


def _write(path: Path, document: dict[str, Any]) -> None:
    """Write the summary at once: a reader never sees half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)
