"""From due to delivered: ``python bench/closing_windows.py [--count N]``.

10,000 windows close in the same second (each thread's user wrote once, a day
before). The clock stands at that second and the worker's two jobs run as the
worker loop runs them — the scheduler, then the webhook dispatcher — until the
last ``whatsapp.window.closed`` is delivered to a local receiver (a separate
process) subscribed to that event. Reports the seconds from the first tick to
the last delivery. SQLite in a temporary folder; the threads and due times are
seeded with plain SQL (``bench/scheduler.py``), the events go the real way.

Writes ``bench/results/closing_windows.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from scheduler import CLOSE, TENANT, fresh_engine, seed_closing_windows
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.adapters.db.due_store import SqlScheduler
from wawindow.adapters.db.webhook_store import SqlWebhookStore
from wawindow.adapters.webhook_sender import HttpWebhookSender
from wawindow.service.delivery_job import DeliveryJob
from wawindow.service.scheduler import SchedulerJob
from wawindow.service.webhook_endpoints import EndpointSpec, create_endpoint
from webhook_delivery import receiver

ROOT = Path(__file__).resolve().parent


def delivered(engine: Engine) -> int:
    d, o = t.webhook_deliveries.c, t.outbox.c
    query = (
        select(func.count())
        .select_from(t.webhook_deliveries.join(t.outbox, o.id == d.outbox_id))
        .where(d.status == "succeeded", o.type == "window.closed")
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def measure(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, receiver() as target:
        engine = fresh_engine(f"sqlite:///{folder}/bench.db")
        seed_closing_windows(engine, count)
        with SqlWebhookStore(engine) as store:
            create_endpoint(store, TENANT, EndpointSpec(target, ["whatsapp.window.closed"]), CLOSE)
        scheduler = SchedulerJob(SqlScheduler(engine))
        dispatcher = DeliveryJob(lambda: SqlDeliveryQueue(engine), HttpWebhookSender())
        started = time.perf_counter()
        passes = 0
        while scheduler.tick(CLOSE) + dispatcher.tick(CLOSE) > 0:
            passes += 1
        elapsed = time.perf_counter() - started
        dispatcher.close()
        done = delivered(engine)
        engine.dispose()
    assert done == count, f"{done} of {count} window.closed delivered"
    return {"windows": count, "seconds_to_last_delivery": round(elapsed, 2), "passes": passes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    result = measure(args.count)
    result["at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result["python"] = platform.python_version()
    out = ROOT / "results"
    (out / "closing_windows.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "closing_windows.md").write_text(render(result))
    sys.stdout.write(render(result))
    return 0


def render(r: dict[str, Any]) -> str:
    return (
        f"# wawindow: windows closing at once, due to delivered ({r['at']}, Python {r['python']})"
        "\n\n| measure | result |\n|---|---|\n"
        f"| {r['windows']:,} windows closing in the same second: until the last "
        f"`whatsapp.window.closed` is delivered (SQLite, one worker) | "
        f"{r['seconds_to_last_delivery']} s ({r['passes']} worker passes) |\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
