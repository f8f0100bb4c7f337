"""The sandbox as a real server, and a real webhook receiver for it to post to.

``WebhookReceiver`` is a plain HTTP server (standard library, its own thread, a
free port of 127.0.0.1) that checks every post's ``X-Hub-Signature-256`` with an
HMAC computed here, independently of wawindow's code, and keeps the raw bodies.
It can be told to answer the next posts with an error status, to stand for a
receiver that is down.

``running_sandbox(settings)`` serves a ``Sandbox`` with uvicorn in a thread on a
free port; ``sandbox_process(args)`` runs the real ``wawindow sandbox`` command
line in a subprocess. Both wait (bounded) until ``GET /sandbox/clock`` answers and
stop the server at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.support.server import HOST, free_port, wawindow_command
from wawindow.entrypoints.sandbox.app import create_sandbox_app
from wawindow.entrypoints.sandbox.sandbox import Sandbox, SandboxSettings

READY_TIMEOUT = 30.0
WAIT_TIMEOUT = 20.0
SECRET = "sandbox-app-secret"
LINE = "106540352242922"
VERSION = "v23.0"


def wait_until(
    condition: Callable[[], bool], timeout: float = WAIT_TIMEOUT, what: str = ""
) -> None:
    """Poll ``condition`` until it holds; ``AssertionError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.02)


# --------------------------------------------------------------------------- the receiver


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    signed_ok: bool

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class WebhookReceiver:
    """A local webhook endpoint; ``posts`` holds every post that came, in arrival order."""

    app_secret: str = SECRET
    posts: list[Received] = field(default_factory=list)
    failures_to_give: int = 0  # answer this many next posts with ``failure_status``
    failure_status: int = 503
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{HOST}:{self._server.server_address[1]}/webhooks/meta"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self.failures_to_give, self.failure_status = count, status

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [post.body for post in self.posts if post.signed_ok]

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies()]

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[dict[str, Any]]:
        wait_until(lambda: len(self.bodies()) >= count, timeout, f"{count} webhook posts")
        return self.documents()

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        expected = "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        signed_ok = hmac.compare_digest(headers.get("x-hub-signature-256", ""), expected)
        with self._lock:
            if self.failures_to_give > 0:
                self.failures_to_give -= 1
                return self.failure_status
            self.posts.append(Received(body, headers, signed_ok))
        return 200 if signed_ok else 401

    @contextlib.contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._take(body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)


# --------------------------------------------------------------------------- the sandbox


@dataclass
class RunningSandbox:
    base_url: str
    client: httpx.Client
    sandbox: Sandbox | None = None  # set when it runs in this process

    def send(
        self, body: dict[str, Any], line: str = LINE, token: str = "any-token"
    ) -> httpx.Response:
        return self.client.post(
            f"/{VERSION}/{line}/messages",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )

    def text(
        self, to: str, body: str = "Hello from the business", line: str = LINE
    ) -> httpx.Response:
        return self.send(
            {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}},
            line,
        )

    def template(
        self, to: str, name: str = "hello_world", language: str = "en_US", line: str = LINE
    ) -> httpx.Response:
        document = {
            "messaging_product": "whatsapp",
            "to": to,
            "type": "template",
            "template": {"name": name, "language": {"code": language}},
        }
        return self.send(document, line)

    def inbound(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("phone_number_id", LINE)
        answer = self.client.post("/sandbox/inbound", json=fields)
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def advance(self, seconds: float) -> dict[str, Any]:
        answer = self.client.post("/sandbox/clock", json={"advance_seconds": seconds})
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def messages(self) -> dict[str, Any]:
        document: dict[str, Any] = self.client.get("/sandbox/messages").json()
        return document

    def settle(self) -> None:
        """Wait until every webhook the sandbox queued has been posted (or has failed)."""
        wait_until(lambda: self.messages()["pending_webhooks"] == 0, what="the webhook queue")


def sandbox_settings(receiver: WebhookReceiver, **overrides: Any) -> SandboxSettings:
    values: dict[str, Any] = {
        "webhook_url": receiver.url,
        "app_secret": receiver.app_secret,
        "status_delay": 0.0,
        "webhook_backoff": 0.05,
    }
    values.update(overrides)
    return SandboxSettings(**values)


@contextlib.contextmanager
def running_sandbox(
    settings: SandboxSettings, wall: Callable[[], datetime] | None = None
) -> Iterator[RunningSandbox]:
    """The sandbox app in uvicorn, in a thread of this process."""
    sandbox = Sandbox(settings, wall) if wall is not None else Sandbox(settings)
    port = free_port()
    config = uvicorn.Config(
        create_sandbox_app(sandbox), host=HOST, port=port, log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://{HOST}:{port}"
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        try:
            wait_until(lambda: server.started, READY_TIMEOUT, "the sandbox to start")
            yield RunningSandbox(base_url, client, sandbox)
        finally:
            server.should_exit = True
            thread.join(timeout=15)


@contextlib.contextmanager
def sandbox_process(workdir: Path, *args: str) -> Iterator[RunningSandbox]:
    """``wawindow sandbox --host 127.0.0.1 --port N ARGS`` in a subprocess."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"sandbox-{port}.log"
    command = [*wawindow_command(), "sandbox", "--host", HOST, "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://{HOST}:{port}"
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        try:
            wait_until(lambda: _answers(client, process), READY_TIMEOUT, "wawindow sandbox")
            yield RunningSandbox(base_url, client)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{log_path.read_text(errors='replace')}") from error
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _answers(client: httpx.Client, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"wawindow sandbox exited with {process.returncode}")
    try:
        return client.get("/sandbox/clock", timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False
