"""The real ``wawindow serve`` for the HTTP benchmarks, set up through the real command line.

``create_tenant(database_url, ...)`` runs ``wawindow tenant create --json`` and
``wawindow line add``; ``serve(database_url, workdir)`` starts ``wawindow serve
--workers 1`` on a free port of 127.0.0.1, waits until ``GET /readyz`` answers
200 (``serve`` migrates the database first, which takes a while on a big one),
yields a ``Server`` and stops the process at the end (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
READY_TIMEOUT = 300.0  # seconds: serve migrates the database before it answers
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 600.0


class ServerError(RuntimeError):
    """``wawindow`` (a command or the server) failed; the message has its output."""


def wawindow_command() -> list[str]:
    """``wawindow`` of the interpreter running the benchmarks (its venv's script)."""
    script = Path(sys.executable).parent / "wawindow"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from wawindow.entrypoints.cli import main; main()"]


def environment(database_url: str) -> dict[str, str]:
    """Ours, minus any ``WAWINDOW_*`` setting, plus the benchmark's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAWINDOW_")}
    env["WAWINDOW_DATABASE_URL"] = database_url
    return env


def run_cli(database_url: str, *args: str) -> str:
    """``wawindow ARGS`` to completion: its stdout, or ``ServerError`` with its output."""
    result = subprocess.run(
        [*wawindow_command(), *args],
        env=environment(database_url),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise ServerError(
            f"wawindow {' '.join(args)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result.stdout


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    api_key: str
    line: str


def create_tenant(
    database_url: str, name: str, line: str, app_secret: str, verify_token: str
) -> Tenant:
    """A tenant and one business line, made with ``wawindow tenant create`` and ``line add``."""
    created = json.loads(run_cli(database_url, "tenant", "create", name, "--json"))
    tenant_id = created["tenant_id"]
    run_cli(
        database_url,
        *("line", "add", "--tenant", tenant_id, "--phone-number-id", line),
        *("--app-secret", app_secret, "--verify-token", verify_token),
    )
    return Tenant(tenant_id, created["api_key"], line)


@dataclass
class Server:
    """A running ``wawindow serve``."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(database_url: str, workdir: Path, workers: int = 1) -> Iterator[Server]:
    """``wawindow serve --workers N`` on a free port until the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / f"serve-{port}.log"
    command = [*wawindow_command(), "serve", "--host", HOST, "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=environment(database_url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://{HOST}:{port}", process, log_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        server.stop()


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise ServerError(f"wawindow serve exited:\n{server.log()[-4000:]}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise ServerError(f"wawindow serve not ready in {READY_TIMEOUT}s:\n{server.log()[-4000:]}")
