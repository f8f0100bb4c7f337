"""``wawindow serve`` and ``wawindow sandbox`` wired together, both real processes.

``serve_with_sandbox(database_url, workdir, start_at=...)`` runs the sandbox with
its clock frozen at ``start_at``, posting signed webhooks to serve's
``/webhooks/meta``; a tenant whose line sends to the sandbox (``--graph-base-url``,
the sandbox's ``--access-token``, the same app secret both ways); then serve,
following the sandbox's clock (``WAWINDOW_CLOCK_URL``). The same template
listing goes to both sides (``wawindow templates import`` and
``POST /sandbox/templates``), and a rate card when given (``wawindow ratecard
load``).

The sandbox must know where serve listens before serve starts (its webhook URL),
and serve where the sandbox listens (its clock, the line's Graph base URL): serve's
port is chosen first and the sandbox started with it.

``Wired`` speaks to both: the tenant's API (``send``, ``dry_run``, ``proxy``,
``session``, ``message``) and the sandbox's (``inbound``, ``advance``, ``settle``).
Moving the sandbox's clock waits until serve reads the same time, so no test
sleeps: every wait polls an API, bounded in time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.sandbox import LINE, VERSION, RunningSandbox, sandbox_process, wait_until
from tests.support.server import HOST, Server, create_tenant, free_port, run_cli, serve

APP_SECRET = "wired-app-secret"
ACCESS_TOKEN = "EAAG-sandbox-token"
PROBE_NUMBER = "15550001111"  # nobody: a dry run to it reads serve's clock and stores nothing


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class Wired:
    """A running serve and the sandbox it sends to and hears from."""

    server: Server
    sandbox: RunningSandbox
    line: str = LINE

    # ------------------------------------------------------------------ wawindow's API

    def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        headers = {"X-API-Key": self.server.api_key}
        return self.server.client.post(path, json=body, params=params, headers=headers)

    def send(self, **body: Any) -> httpx.Response:
        """``POST /v1/messages`` from this line."""
        return self.post("/v1/messages", {"phone_number_id": self.line, **body})

    def dry_run(self, **body: Any) -> dict[str, Any]:
        answer = self.post("/v1/messages", {"phone_number_id": self.line, **body}, dry_run="true")
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        assert document["dry_run"] is True
        return document

    def proxy(self, body: dict[str, Any], version: str = VERSION) -> httpx.Response:
        """The Graph proxy, as a Cloud API client calls it (the API key as bearer token)."""
        return self.server.client.post(
            f"/graph/{version}/{self.line}/messages",
            json=body,
            headers={"Authorization": f"Bearer {self.server.api_key}"},
        )

    def session(self, user: str) -> dict[str, Any]:
        answer = self.server.get(
            "/v1/session-status", phone_number_id=self.line, contact_phone=user
        )
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def message(self, message_id: str, status: str = "read") -> dict[str, Any]:
        """``GET /v1/messages/{id}``, polled until the message has ``status``."""
        found: dict[str, Any] = {}

        def reached() -> bool:
            answer = self.server.get(f"/v1/messages/{message_id}")
            if answer.status_code == 404:
                return False
            assert answer.status_code == 200, answer.text
            found.update(answer.json())
            return bool(found["status"] == status)

        wait_until(reached, what=f"wawindow to show {message_id} {status} (last: {found})")
        return found

    def server_now(self) -> datetime:
        return datetime.fromisoformat(self.dry_run(to=PROBE_NUMBER, text="?")["decision"]["at"])

    # ------------------------------------------------------------------ the sandbox

    def inbound(self, user: str, text: str = "Hello", **fields: Any) -> dict[str, Any]:
        """A user writes; serve has stored it once this returns."""
        posted = self.sandbox.inbound(
            phone_number_id=self.line, **{"from": user, "text": text}, **fields
        )
        assert posted["webhook"]["state"] == "delivered", posted
        assert posted["webhook"]["status_code"] == 200, posted
        return posted

    def sandbox_now(self) -> datetime:
        clock = self.sandbox.client.get("/sandbox/clock").json()
        return datetime.fromisoformat(clock["now"])

    def advance(self, seconds: float) -> datetime:
        """Move both clocks ahead; returns the new time once serve reads it too."""
        self.sandbox.advance(seconds)
        return self.sync_clocks()

    def set_clock(self, at: datetime) -> datetime:
        answer = self.sandbox.client.post("/sandbox/clock", json={"at": iso(at), "frozen": True})
        assert answer.status_code == 200, answer.text
        return self.sync_clocks()

    def sync_clocks(self) -> datetime:
        """Wait until serve (which re-reads the sandbox's clock every 0.2 s) has its time."""
        now = self.sandbox_now()
        wait_until(lambda: self.server_now() == now, what=f"serve's clock to reach {now}")
        return now

    def settle(self) -> None:
        """Wait until every webhook went out, and check serve took each one (200)."""
        self.sandbox.settle()
        posts = self.sandbox.client.get("/sandbox/webhooks").json()["data"]
        refused = [p for p in posts if (p["state"], p["status_code"]) != ("delivered", 200)]
        assert refused == [], refused

    def sent(self, message_id: str) -> dict[str, Any]:
        """The sandbox's record of a message: request, outcome, pricing, statuses."""
        answer = self.sandbox.client.get(f"/sandbox/messages/{message_id}")
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def outbound(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every message the sandbox was asked to send (to ``user``), in order."""
        document = self.sandbox.client.get("/sandbox/messages", params={"direction": "outbound"})
        items: list[dict[str, Any]] = document.json()["data"]
        return [m for m in items if user is None or m["wa_id"] == user]

    def chat(self, user: str) -> dict[str, Any]:
        """The sandbox's own view of the chat with ``user``: window, free entry point."""
        chats = self.sandbox.client.get("/sandbox/chats").json()["data"]
        (found,) = [c for c in chats if c["phone_number_id"] == self.line and c["wa_id"] == user]
        chat: dict[str, Any] = found
        return chat


@contextlib.contextmanager
def serve_with_sandbox(
    database_url: str,
    workdir: Path,
    *,
    start_at: datetime,
    seed: int = 5,
    templates: Sequence[dict[str, Any]] = (),
    rate_card: str | None = None,
) -> Iterator[Wired]:
    """The sandbox (clock frozen at ``start_at``), the tenant and its line, then serve."""
    serve_port = free_port()
    sandbox_args = [
        "--webhook-url", f"http://{HOST}:{serve_port}/webhooks/meta",
        "--app-secret", APP_SECRET,
        "--access-token", ACCESS_TOKEN,
        "--seed", str(seed),
        "--start-at", iso(start_at),
        "--frozen-clock",
        "--status-delay", "0",
    ]  # fmt: skip
    serve_dir = workdir / "serve"
    with sandbox_process(workdir / "sandbox", *sandbox_args) as sandbox:
        tenant = create_tenant(
            database_url,
            serve_dir,
            app_secret=APP_SECRET,
            access_token=ACCESS_TOKEN,
            graph_base_url=sandbox.base_url,
        )
        with ThreadPoolExecutor(max_workers=2) as pool:  # two commands, ~1 s of start-up each
            loading = []
            if templates:
                loading.append(
                    pool.submit(_load_templates, database_url, serve_dir, sandbox, list(templates))
                )
            if rate_card is not None:
                loading.append(
                    pool.submit(
                        _load_rate_card, database_url, serve_dir, tenant.tenant_id, rate_card
                    )
                )
            for done in loading:
                done.result()
        clock = {"WAWINDOW_CLOCK_URL": sandbox.base_url}
        with serve(database_url, tenant, serve_dir, port=serve_port, env=clock) as server:
            wired = Wired(server, sandbox)
            wired.sync_clocks()
            yield wired


def _load_rate_card(database_url: str, workdir: Path, tenant_id: str, rate_card: str) -> None:
    card = workdir / "rate-card.csv"
    card.write_text(rate_card)
    run_cli(database_url, workdir, "ratecard", "load", str(card), "--tenant", tenant_id)


def _load_templates(
    database_url: str, workdir: Path, sandbox: RunningSandbox, templates: list[dict[str, Any]]
) -> None:
    """One listing, as WhatsApp gives it, to wawindow's registry and to the sandbox."""
    listing = workdir / "templates.json"
    listing.write_text(json.dumps({"data": templates}))
    run_cli(database_url, workdir, "templates", "import", str(listing), "--phone-number-id", LINE)
    loaded = sandbox.client.post("/sandbox/templates", json={"data": templates})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["errors"] == [], loaded.text
