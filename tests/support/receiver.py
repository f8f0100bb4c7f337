"""A real HTTP server on a free port that receives wawindow's webhooks, as a tenant would.

``Receiver()`` listens on 127.0.0.1 (a thread per request) until it is closed.
Every request is checked with the official ``standardwebhooks`` library,
``Webhook(secret).verify(body, headers)``, against each secret in ``secrets``;
the check's outcome is kept with the request. ``answer`` decides the status code
of each answer: by default 200 when the signature is valid and 401 when not, as
a careful receiver would; a test sets it to answer 503 while the endpoint is down.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    verified: bool  # by one of the receiver's secrets, with the library
    answered: int

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def body(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.raw)
        return loaded

    @property
    def type(self) -> str:
        return str(self.body["type"])


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda request: 200 if request.verified else 401
    received: list[Received] = field(default_factory=list)
    reply: bytes | None = None  # the body of every answer, if set
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they arrived."""
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        verified = any(_verifies(secret, headers, raw) for secret in self.secrets)
        unanswered = Received(path, headers, raw, verified, 0)
        status = self.answer(unanswered)
        with self._lock:
            self.received.append(Received(path, headers, raw, verified, status))
        return status


def _verifies(secret: str, headers: dict[str, str], raw: bytes) -> bool:
    try:
        Webhook(secret).verify(raw, headers)
    except WebhookVerificationError:
        return False
    return True


@contextmanager
def running_receiver(receiver: Receiver | None = None) -> Iterator[tuple[Receiver, str]]:
    """The receiver and its base URL (``http://127.0.0.1:<port>``), until the block ends."""
    receiver = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.handle(self.path, headers, raw)
            default = b'{"ok": true}' if status < 300 else b"unavailable, try later"
            reply = default if receiver.reply is None else receiver.reply
            self.send_response(status)
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads ``received``

    ThreadingHTTPServer.request_queue_size = 128  # many senders at once: no refused connections
    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
