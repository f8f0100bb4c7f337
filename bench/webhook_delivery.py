"""Webhook delivery benchmark: ``python bench/webhook_delivery.py [--quick] [--database-url URL]``.

Measures the dispatcher alone (``DeliveryJob.tick`` in a loop, as the worker runs
it) against a local receiver in its own process that answers 200 at once:

- many contacts: 10,000 ``window.closed`` events of 10,000 different contacts,
  all due in the same second, from the outbox to the receiver (fan-out, claims,
  signing, HTTP, recording): the time until the last one is delivered;
- one contact: 1,000 events of one contact, which go one at a time by the
  ordering rule (one per tick).

Writes ``bench/results/webhook_delivery.json`` and ``.md``. SQLite in a temporary
folder by default.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.adapters.db.webhook_store import SqlWebhookStore
from wawindow.adapters.webhook_sender import HttpWebhookSender
from wawindow.service.delivery_job import DeliveryJob
from wawindow.service.tenants import create_tenant
from wawindow.service.webhook_endpoints import EndpointSpec, create_endpoint

ROOT = Path(__file__).resolve().parent
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

ThreadingHTTPServer.request_queue_size = 256
server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@contextmanager
def receiver() -> Iterator[str]:
    """A receiver in its own process (not competing with the dispatcher for the GIL)."""
    process = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        process.terminate()
        process.wait(10)


def prepared(url: str, target: str, subjects: list[str]) -> tuple[Engine, str]:
    """A new tenant with one endpoint subscribed to everything, and its events."""
    engine = make_engine(url)
    upgrade(engine)
    with SqlTenantStore(engine) as store:
        tenant_id = create_tenant(store, "bench", NOW).tenant_id
    with SqlWebhookStore(engine) as store:
        create_endpoint(store, tenant_id, EndpointSpec(target, ["*"]), NOW)
    rows = [
        {
            "tenant_id": tenant_id,
            "event_key": f"window.closed:{n}",
            "type": "window.closed",
            "thread_id": None,
            "occurred_at": NOW,
            "data": {"subject": subject},
            "created_at": NOW,
        }
        for n, subject in enumerate(subjects)
    ]
    with engine.begin() as connection:
        connection.execute(insert(t.outbox), rows)
    return engine, tenant_id


def deliver_all(engine: Engine, tenant_id: str) -> tuple[float, int]:
    """Seconds until the job is idle, and the ticks it took; every delivery must succeed."""
    job = DeliveryJob(lambda: SqlDeliveryQueue(engine), HttpWebhookSender())
    started = time.perf_counter()
    ticks = 0
    while job.tick(NOW):
        ticks += 1
    elapsed = time.perf_counter() - started
    job.close()
    d, o = t.webhook_deliveries, t.outbox
    succeeded = select(func.count()).where(d.c.tenant_id == tenant_id, d.c.status == "succeeded")
    total = select(func.count()).where(o.c.tenant_id == tenant_id)
    with engine.connect() as connection:
        done, events = connection.execute(succeeded), connection.execute(total)
        assert done.scalar_one() == events.scalar_one(), "not every event was delivered"
    return elapsed, ticks


def measure(url: str | None, subjects: list[str]) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as folder, receiver() as target:
        engine, tenant_id = prepared(url or f"sqlite:///{folder}/bench.db", target, subjects)
        try:
            elapsed, ticks = deliver_all(engine, tenant_id)
        finally:
            engine.dispose()
    return {
        "events": len(subjects),
        "seconds": elapsed,
        "per_second": len(subjects) / elapsed,
        "ticks": ticks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--database-url", help="a PostgreSQL database to use (default: new SQLite files)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    many, one = (1_000, 100) if args.quick else (10_000, 1_000)
    results: dict[str, Any] = {
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "database": "postgresql" if args.database_url else "sqlite",
        "quick": args.quick,
        "many_contacts": measure(args.database_url, [f"contact{n}" for n in range(many)]),
        "one_contact": measure(args.database_url, ["contact0"] * one),
    }
    results["ratio_many_to_one_per_second"] = (
        results["many_contacts"]["per_second"] / results["one_contact"]["per_second"]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "webhook_delivery.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "webhook_delivery.md").write_text(render(results))
    print(render(results))
    return 0


def render(r: dict[str, Any]) -> str:
    many, one = r["many_contacts"], r["one_contact"]
    return (
        f"# wawindow webhook delivery ({r['at']}, Python {r['python']}, {r['database']}"
        f"{', quick' if r['quick'] else ''})\n\n"
        "| measure | result |\n|---|---|\n"
        f"| {many['events']:,} events of as many contacts, due in the same second: "
        f"until the last is delivered | {many['seconds']:.1f} s ({many['per_second']:,.0f}/s) |\n"
        f"| {one['events']:,} events of one contact (one at a time, in order) "
        f"| {one['seconds']:.1f} s ({one['per_second']:,.0f}/s) |\n"
        f"| ratio many contacts / one contact, per second (same run) "
        f"| {r['ratio_many_to_one_per_second']:.1f} |\n"
    )


if __name__ == "__main__":
    sys.exit(main())
