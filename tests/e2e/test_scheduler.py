"""Timed events from the real processes: ``serve`` (its worker thread) and ``wawindow worker``.

Time is not faked: the webhooks carry WhatsApp timestamps from the past (a user
who wrote 23h59m57s ago), so their window closes a few seconds into the test.
The outbox is read straight from the database while it fills; every wait is
bounded by a generous timeout, no assertion is on wall time.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e.conftest import NewDatabase
from tests.support.scenario import inbound
from tests.support.server import (
    Database,
    create_tenant,
    json_value,
    post_concurrently,
    serve,
    wawindow_server,
)
from tests.support.worker import wait_for, worker_process

DAY = 24 * 3600
TIMEOUT = 30.0  # seconds past a due time before an event counts as missing


def at(unix: int) -> str:
    """The scenario builders' time format, to the second."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def stamp(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def instant(value: Any) -> datetime:
    """A time column as either backend returns it (SQLite: naive text in UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def events(db: Database, *types: str) -> list[tuple[str, datetime, dict[str, Any]]]:
    marks = ",".join("?" for _ in types)
    rows = db.rows(
        f"SELECT type, occurred_at, data FROM outbox WHERE type IN ({marks}) ORDER BY id", *types
    )
    return [(kind, instant(when), json_value(data)) for kind, when, data in rows]


TIMED = (
    "conversation.inactive",
    "conversation.ended",
    "window.expiring",
    "window.closed",
    "fep.closed",
    "lead.unanswered_soon",
    "lead.unanswered",
)


def test_serve_emits_due_events_within_seconds_of_their_time(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = Database(sqlite_url)
    with wawindow_server(sqlite_url, tmp_path) as server:
        now = int(time.time())
        quiet = now - 1800 + 3  # 30 minutes ago, less 3 s: inactive in 3 s
        closing = now - DAY + 4  # a day ago, less 4 s: the window closes in 4 s
        for body in (
            inbound(at(quiet), "wamid.e2e.quiet", "16505550001"),
            inbound(at(closing), "wamid.e2e.closing", "16505550002"),
        ):
            assert server.post_webhook(body).status_code == 200

        def arrived() -> bool:
            return len(events(db, "conversation.inactive", "window.closed")) >= 3

        assert wait_for(arrived, closing + DAY - time.time() + TIMEOUT), server.log()[-3000:]

    found = {(kind, when, data["contact"]["wa_id"]) for kind, when, data in events(db, *TIMED)}
    assert found == {
        ("conversation.inactive", stamp(quiet + 1800), "16505550001"),
        ("conversation.inactive", stamp(closing + 1800), "16505550002"),
        ("window.expiring", stamp(closing + DAY - 3600), "16505550002"),
        ("window.closed", stamp(closing + DAY), "16505550002"),
        ("conversation.ended", stamp(closing + DAY), "16505550002"),
    }


def test_a_worker_process_emits_what_serve_without_worker_leaves(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = Database(sqlite_url)
    tenant = create_tenant(sqlite_url, tmp_path)
    with serve(sqlite_url, tenant, tmp_path, args=("--no-worker",)) as server:
        closing = int(time.time()) - DAY + 3
        body = inbound(at(closing), "wamid.e2e.1", "16505550003")
        assert server.post_webhook(body).status_code == 200
        # Everything of this window is due within 3 s; with no worker nothing goes out.
        time.sleep(max(0.0, closing + DAY - time.time()) + 2)
        assert events(db, *TIMED) == []

        with worker_process(sqlite_url, tmp_path) as worker:
            closed = wait_for(lambda: len(events(db, "window.closed")) == 1, TIMEOUT)
            exit_code = worker.stop()
        assert closed, worker.log()
        assert exit_code == 0, worker.log()  # SIGTERM: a clean stop
        assert "worker stopped" in worker.log()

    kinds = Counter(kind for kind, _, _ in events(db, *TIMED))
    assert kinds == {
        "conversation.inactive": 1,
        "window.expiring": 1,
        "window.closed": 1,
        "conversation.ended": 1,
    }


CLOSING, EXTENDED, BUSY = 150, 75, 100  # contacts of each kind in the load test


def test_two_workers_and_serve_under_load_emit_every_due_event_once(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    url = new_database("postgresql")
    db = Database(url)
    tenant = create_tenant(url, tmp_path)
    now = int(time.time())
    expected: dict[str, Counter[tuple[str, datetime]]] = {}
    bodies: list[bytes] = []

    for n in range(CLOSING):  # one message a day ago: the window closes during the test
        wa_id, first = f"491700{n:06d}", now - DAY + 8 + n % 5
        bodies.append(_encode(inbound(at(first), f"wamid.c{n}", wa_id)))
        expected[wa_id] = Counter(
            {
                ("conversation.inactive", stamp(first + 1800)): 1,
                ("window.expiring", stamp(first + DAY - 3600)): 1,
                ("window.closed", stamp(first + DAY)): 1,
                ("conversation.ended", stamp(first + DAY)): 1,
            }
        )
    for n in range(EXTENDED):  # a second message 10 minutes later replaces the first's end
        wa_id, first = f"491800{n:06d}", now - DAY + 8 + n % 5
        second = first + 600
        body = inbound(at(first), f"wamid.e{n}.1", wa_id)
        later = inbound(at(second), f"wamid.e{n}.2", wa_id)
        body["entry"][0]["changes"][0]["value"]["messages"].extend(
            later["entry"][0]["changes"][0]["value"]["messages"]
        )
        bodies.append(_encode(body))
        expected[wa_id] = Counter(
            {
                ("conversation.inactive", stamp(second + 1800)): 1,
                ("window.expiring", stamp(second + DAY - 3600)): 1,
            }
        )
    busy = [_encode(inbound(at(now), f"wamid.b{n}", f"491900{n:06d}")) for n in range(BUSY)]

    with (
        serve(url, tenant, tmp_path) as server,  # with its worker thread: three schedulers
        worker_process(url, tmp_path, "worker-1") as first_worker,
        worker_process(url, tmp_path, "worker-2") as second_worker,
    ):
        answers = post_concurrently(server, bodies, workers=8)
        answers += post_concurrently(server, busy, workers=8)  # more load as windows close
        assert answers == [200] * len(answers)

        def all_closed() -> bool:
            return len(events(db, "window.closed")) >= CLOSING

        closed = wait_for(all_closed, now + 8 + 5 - time.time() + 60)
        time.sleep(2)  # let every scheduler finish the batch it holds
        logs = first_worker.log() + second_worker.log() + server.log()
        assert closed, logs[-4000:]
        assert first_worker.stop() == 0
        assert second_worker.stop() == 0

    found: dict[str, Counter[tuple[str, datetime]]] = {}
    for kind, when, data in events(db, *TIMED):
        found.setdefault(data["contact"]["wa_id"], Counter())[(kind, when)] += 1
    assert found == expected
    overdue = db.rows("SELECT count(*) FROM due_times WHERE due_at <= ?", stamp(now))
    assert overdue[0][0] == 0


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
