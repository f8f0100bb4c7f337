"""A small, real HTTP server that answers like the Cloud API's messages endpoint.

``GraphServer`` listens on a free port of 127.0.0.1 and serves
``POST /{version}/{phone_number_id}/messages``. By default it answers as WhatsApp
does: a send gets ``200 {"messaging_product", "contacts": [...], "messages":
[{"id": "wamid.…"}]}`` (new wamid each time), a mark-as-read gets
``{"success": true}``. A test scripts the next answers with ``script(Answer(...))``:
an error status and body, or a delay longer than the client's read timeout.
Every request is recorded (``requests``) *before* it is answered, so a test can
tell "the server saw it" from "the client got an answer".

The door can be held shut: ``GraphServer(accepting=False)`` listens with a full
accept queue, so connections time out before they are made, until ``open()``.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Answer:
    """One scripted answer; ``body=None`` answers like a successful send."""

    status: int = 200
    body: dict[str, Any] | None = None
    delay: float = 0.0  # seconds before answering
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body that is not JSON (e.g. a proxy's HTML error page)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def graph_error(
    code: int, message: str, details: str | None = None, status: int = 400, **extra: Any
) -> Answer:
    """An error answer in the Graph API's shape."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": f"Atrace{code}",
        **extra,
    }
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return Answer(status, {"error": error})


class GraphServer:
    def __init__(self, accepting: bool = True) -> None:
        self.requests: list[Received] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._fillers: list[socket.socket] = []
        self._httpd = _Server((HOST, 0), _handler_for(self), bind_and_activate=False)
        self._httpd.server_bind()
        self._httpd.socket.listen(0 if not accepting else 64)
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://{HOST}:{self.port}"
        self._thread: threading.Thread | None = None
        if accepting:
            self.open()
        else:
            self._fill_accept_queue()

    # -- the script -----------------------------------------------------------------------

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def next_answer(self, received: Received) -> Answer:
        with self._lock:
            self.requests.append(received)
            answer = self._script.popleft() if self._script else Answer()
            if answer.body is None and answer.raw is None:
                answer = replace(answer, body=self._default_body(received.body))
            return answer

    def _default_body(self, body: Any) -> dict[str, Any]:
        if isinstance(body, dict) and body.get("status") == "read":
            return {"success": True}
        wamid = f"wamid.GRAPH{next(self._ids):06d}"
        recipient = body.get("to") if isinstance(body, dict) else None
        if recipient:
            digits = "".join(ch for ch in str(recipient) if ch.isdigit())
            contact = {"input": recipient, "wa_id": digits}
        else:
            user = body.get("recipient") if isinstance(body, dict) else None
            contact = {"input": user, "user_id": user}
        return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}

    @property
    def sends(self) -> list[Received]:
        """The requests that were sends (not mark-as-read)."""
        return [r for r in self.requests if isinstance(r.body, dict) and "status" not in r.body]

    # -- running ----------------------------------------------------------------------------

    def _fill_accept_queue(self) -> None:
        """Connections that are never accepted: the next connect's SYN is dropped."""
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with suppress(BlockingIOError):
                filler.connect((HOST, self.port))
            self._fillers.append(filler)

    def open(self) -> None:
        """Start answering (empties the held accept queue first)."""
        for filler in self._fillers:
            filler.close()
        self._fillers.clear()
        self._httpd.socket.listen(64)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def sleep_until(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the server stops first; ``False`` when it stopped."""
        return not self._stopping.wait(seconds)

    def stop(self) -> None:
        self._stopping.set()
        for filler in self._fillers:
            filler.close()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()


@contextmanager
def graph_server(accepting: bool = True) -> Iterator[GraphServer]:
    server = GraphServer(accepting)
    try:
        yield server
    finally:
        server.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def _handler_for(server: GraphServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            received = Received("POST", self.path, dict(self.headers.items()), body)
            answer = server.next_answer(received)
            if answer.delay and not server.sleep_until(answer.delay):
                return
            self._answer(answer)

        def _answer(self, answer: Answer) -> None:
            payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting (a read timeout): nobody to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
