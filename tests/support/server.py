"""The real ``wawindow serve`` in a subprocess, set up through the real command line.

``wawindow_server(database_url, workdir, ...)`` creates a tenant with
``wawindow tenant create NAME --json`` and its lines with ``wawindow line add``,
starts ``wawindow serve --host 127.0.0.1 --port N`` on a free port, waits (at most
``READY_TIMEOUT`` seconds) until ``GET /readyz`` answers 200, yields a ``Server``,
and stops the process at the end (SIGTERM, then SIGKILL if it lingers).

``create_tenant`` and ``serve`` are the two halves, for tests that restart a
server on the same database (``Server.kill()`` sends SIGKILL, as a crash would).

Every wait is bounded in time; every server listens on 127.0.0.1 only. When a
server does not come up, the error carries its log (stdout and stderr).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0  # seconds for serve to migrate the database and answer /readyz
STOP_TIMEOUT = 10.0  # seconds for serve to exit after SIGTERM before it gets SIGKILL
CLI_TIMEOUT = 60.0  # seconds for one command-line call
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
DEFAULT_LINE = "106540352242922"
DEFAULT_SECRET = "e2e-app-secret"
DEFAULT_TOKEN = "e2e-verify-token"


class ServerError(RuntimeError):
    """``wawindow`` (a command or the server) failed; the message has its output."""


def wawindow_command() -> list[str]:
    """How to run ``wawindow`` from the interpreter running the tests (its venv's script)."""
    script = Path(sys.executable).parent / "wawindow"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from wawindow.entrypoints.cli import main; main()"]


def environment(
    database_url: str, port: int | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The process environment: ours, minus any ``WAWINDOW_*``, plus the test's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAWINDOW_")}
    env["WAWINDOW_DATABASE_URL"] = database_url
    env["WAWINDOW_HOST"] = HOST
    if port is not None:
        env["WAWINDOW_PORT"] = str(port)
    env.update(extra or {})
    return env


def run_cli(database_url: str, workdir: Path, *args: str) -> str:
    """Run ``wawindow ARGS`` to completion; its stdout, or ``ServerError`` with its output."""
    command = [*wawindow_command(), *args]
    try:
        result = subprocess.run(
            command,
            cwd=workdir,
            env=environment(database_url),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ServerError(f"{' '.join(args)} took over {CLI_TIMEOUT}s") from error
    if result.returncode != 0:
        raise ServerError(
            f"wawindow {' '.join(args)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result.stdout


@dataclass(frozen=True)
class Tenant:
    """A tenant made through the command line, and the secrets of its lines."""

    tenant_id: str
    api_key: str
    app_secret: str
    verify_token: str
    phone_number_ids: tuple[str, ...]


def create_tenant(
    database_url: str,
    workdir: Path,
    *,
    name: str = "e2e",
    phone_number_ids: Sequence[str] = (DEFAULT_LINE,),
    app_secret: str = DEFAULT_SECRET,
    verify_token: str = DEFAULT_TOKEN,
    access_token: str | None = None,
    graph_base_url: str | None = None,
) -> Tenant:
    """``tenant create NAME --json``, then ``line add`` for each phone_number_id.

    With ``access_token`` (and ``graph_base_url``) the lines can send, to that Cloud API.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    created = json.loads(run_cli(database_url, workdir, "tenant", "create", name, "--json"))
    tenant_id, api_key = created["tenant_id"], created["api_key"]

    sending: list[str] = []
    if access_token is not None:
        sending += ["--access-token", access_token]
    if graph_base_url is not None:
        sending += ["--graph-base-url", graph_base_url]

    def add_line(phone_number_id: str) -> str:
        return run_cli(
            database_url,
            workdir,
            "line",
            "add",
            "--tenant",
            tenant_id,
            "--phone-number-id",
            phone_number_id,
            "--app-secret",
            app_secret,
            "--verify-token",
            verify_token,
            *sending,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:  # one process each, ~1 s of start-up
        list(pool.map(add_line, phone_number_ids))
    return Tenant(tenant_id, api_key, app_secret, verify_token, tuple(phone_number_ids))


def signature(body: bytes, app_secret: str) -> str:
    """``X-Hub-Signature-256`` as Meta computes it (independently of wawindow's code)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class Server:
    """A running ``wawindow serve`` and the tenant it was set up with."""

    base_url: str
    database_url: str
    tenant: Tenant
    process: subprocess.Popen[bytes]
    log_path: Path
    client: httpx.Client = field(repr=False)

    @property
    def api_key(self) -> str:
        return self.tenant.api_key

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    @property
    def app_secret(self) -> str:
        return self.tenant.app_secret

    @property
    def verify_token(self) -> str:
        return self.tenant.verify_token

    def post_webhook(
        self,
        body: bytes | dict[str, Any],
        sign: bool = True,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        """POST ``/webhooks/meta``; signed with the line's app secret (or ``secret``)."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        sent = {"Content-Type": "application/json"}
        if sign:
            sent["X-Hub-Signature-256"] = signature(raw, secret or self.app_secret)
        sent.update(headers or {})
        return (client or self.client).post("/webhooks/meta", content=raw, headers=sent)

    def get(self, path: str, api_key: str | None = None, **params: Any) -> httpx.Response:
        headers = {"X-API-Key": api_key or self.api_key}
        return self.client.get(path, params=params, headers=headers)

    def conversations(self, api_key: str | None = None) -> list[dict[str, Any]]:
        """Every page of ``GET /v1/conversations`` for the tenant of ``api_key``."""
        items: list[dict[str, Any]] = []
        for page in range(1, 1000):
            response = self.get("/v1/conversations", api_key, page=page, page_size=500)
            assert response.status_code == 200, response.text
            document = response.json()
            items.extend(document["items"])
            if not document["items"] or len(items) >= document["total"]:
                return items
        raise AssertionError("more than 1000 pages of conversations")

    def new_client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0, **options)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it is still there."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()


def post_concurrently(
    server: Server,
    bodies: Sequence[bytes],
    workers: int = 16,
    *,
    on_answer: Callable[[int, int | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout: float = 120.0,
) -> list[int | None]:
    """Post every body (signed), ``workers`` at a time, each worker with its own client.

    Returns the status code per body, ``None`` where no answer came (the connection
    failed, or ``should_stop`` said to stop before it was sent). ``on_answer(index,
    status)`` is called from the worker threads after each attempt.
    """
    results: list[int | None] = [None] * len(bodies)
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))

    def work() -> None:
        with server.new_client() as client:
            while not (should_stop and should_stop()):
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                try:
                    results[index] = server.post_webhook(bodies[index], client=client).status_code
                except httpx.TransportError:
                    results[index] = None
                if on_answer is not None:
                    on_answer(index, results[index])

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise ServerError(f"posting {len(bodies)} bodies took over {timeout}s")
    return results


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(
    database_url: str,
    tenant: Tenant,
    workdir: Path,
    args: Sequence[str] = (),
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """``wawindow serve ARGS`` on 127.0.0.1 until the block ends.

    On ``port`` when given (a peer already knows where to post), else on a free
    one; ``env`` adds settings (``WAWINDOW_CLOCK_URL``…) to its environment.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    server = _start(database_url, tenant, workdir, args, port, env)
    try:
        yield server
    finally:
        server.client.close()
        server.stop()


@contextlib.contextmanager
def wawindow_server(
    database_url: str,
    workdir: Path,
    *,
    phone_number_ids: Sequence[str] = (DEFAULT_LINE,),
    app_secret: str = DEFAULT_SECRET,
    verify_token: str = DEFAULT_TOKEN,
    name: str = "e2e",
) -> Iterator[Server]:
    """A tenant and its lines made with the command line, then ``serve`` for them."""
    tenant = create_tenant(
        database_url,
        workdir,
        name=name,
        phone_number_ids=phone_number_ids,
        app_secret=app_secret,
        verify_token=verify_token,
    )
    with serve(database_url, tenant, workdir) as server:
        yield server


def _start(
    database_url: str,
    tenant: Tenant,
    workdir: Path,
    args: Sequence[str] = (),
    fixed_port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Server:
    failures: list[str] = []
    for attempt in range(1, START_ATTEMPTS + 1):
        port = fixed_port or free_port()
        log_path = workdir / f"serve-{port}-{attempt}.log"
        command = [*wawindow_command(), "serve", "--host", HOST, "--port", str(port), *args]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=environment(database_url, port, extra_env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base_url = f"http://{HOST}:{port}"
        client = httpx.Client(base_url=base_url, timeout=30.0)
        server = Server(base_url, database_url, tenant, process, log_path, client)
        if _wait_ready(server):
            return server
        client.close()
        server.kill()
        log_text = server.log()
        failures.append(f"attempt {attempt} on port {port}:\n{log_text[-4000:]}")
        if fixed_port is not None or "address already in use" not in log_text.lower():
            break  # not a port race, or no other port to try: it would fail the same way
    raise ServerError("wawindow serve did not become ready:\n" + "\n".join(failures))


def _wait_ready(server: Server) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if server.client.get("/readyz", timeout=2.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- the database


class Database:
    """Plain SQL reads on a wawindow database (SQLite file or PostgreSQL), for assertions.

    Parameters are written ``?`` in both dialects. JSON columns come back as text
    from SQLite and parsed from PostgreSQL; ``json_value`` evens that out.
    """

    def __init__(self, database_url: str) -> None:
        self.url = database_url

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite:///"):
            return self._sqlite_rows(query, params)
        conninfo = self.url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(conninfo) as pg:
            return pg.execute(query.replace("?", "%s").encode(), params).fetchall()

    def _sqlite_rows(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30.0)
        try:
            return connection.execute(query, params).fetchall()
        finally:
            connection.close()

    def count(self, table: str) -> int:
        value = self.rows(f"SELECT count(*) FROM {table}")[0][0]  # table names are ours
        return int(value)

    def inbox_hashes(self) -> set[str]:
        return {row[0] for row in self.rows("SELECT body_sha256 FROM inbox")}


def json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value
