"""The scheduler's benchmarks: ``python bench/run.py --only scheduler [--quick]``.

On SQLite, and on a throwaway PostgreSQL when its server binaries are installed
(``tests/support/postgres.py``), measures:

- a burst: 10,000 windows closing in the same second (each thread also has its
  conversation ending then, as after one message a day ago). The clock stands
  at that second and the scheduler ticks until nothing is due: the time until
  the last ``window.closed`` is in the outbox, and events/s;
- the idle tick: ``SchedulerJob.tick(now)`` when nothing is due, with 10,000
  and with 1,000,000 threads (each with a due time in the next day), the
  median of many ticks. The due-time index answers "anything due?" with one
  range probe, so the two should cost the same. The rows are seeded with plain
  SQL: this measures the index, not ingestion. The query plan of the batch
  query (``take_due``) at the large size is kept with the results.

Writes ``bench/results/scheduler.json`` and ``bench/results/scheduler.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.due_store import TAKE_DUE_SQL, SqlScheduler
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import upgrade
from wawindow.service.scheduler import SchedulerJob

ROOT = Path(__file__).resolve().parent
CLOSE = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # the second every window closes in
OPENED = CLOSE - timedelta(hours=24)
TENANT, LINE = "tn_bench", "106540352242922"
IDLE_TICKS = 300


# --------------------------------------------------------------------------- databases


def databases(folder: Path) -> Iterator[tuple[str, Any]]:
    """(backend, factory of fresh database URLs): SQLite always, PostgreSQL when it can start."""
    numbers = iter(range(1, 1000))
    yield "sqlite", lambda: f"sqlite:///{folder / f'bench-{next(numbers)}.db'}"
    sys.path.insert(0, str(ROOT.parent))
    try:
        from tests.support.postgres import PostgresUnavailable, running_postgres
    except ImportError:
        return
    try:
        with running_postgres() as server:
            import psycopg

            def new_pg() -> str:
                name = f"bench_{next(numbers)}"
                with psycopg.connect(server.conninfo(), autocommit=True) as admin:
                    admin.execute(f"CREATE DATABASE {name}".encode())
                return server.url(name)

            yield "postgresql", new_pg
    except PostgresUnavailable as missing:
        sys.stderr.write(f"PostgreSQL skipped: {missing}\n")


def fresh_engine(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            t.tenants.insert().values(id=TENANT, name="bench", settings={}, created_at=OPENED)
        )
        conn.execute(
            t.lines.insert().values(
                phone_number_id=LINE,
                tenant_id=TENANT,
                app_secret="s",
                verify_token="v",
                provider="meta",
                timezone="UTC",
                created_at=OPENED,
            )
        )
    return engine


# --------------------------------------------------------------------------- the burst


def seed_closing_windows(engine: Engine, count: int) -> None:
    """``count`` threads whose user wrote once, a day before ``CLOSE``: window and
    conversation end at ``CLOSE`` (the earlier due times have gone out)."""
    ids = range(count)
    with engine.begin() as conn:
        conn.execute(
            t.contacts.insert(),
            [
                {"id": f"ct{n}", "tenant_id": TENANT, "name": f"User {n}", "created_at": OPENED}
                for n in ids
            ],
        )
        conn.execute(
            t.contact_identifiers.insert(),
            [
                {
                    "tenant_id": TENANT,
                    "kind": "wa_id",
                    "value": f"4915{n:08d}",
                    "contact_id": f"ct{n}",
                    "observed_at": OPENED,
                }
                for n in ids
            ],
        )
        conn.execute(t.threads.insert(), [_thread(n, CLOSE) for n in ids])
        conn.execute(
            t.conversations.insert(),
            [
                {
                    "id": f"conv{n}",
                    "tenant_id": TENANT,
                    "thread_id": f"th{n}",
                    "line": LINE,
                    "contact_id": f"ct{n}",
                    "started_at": OPENED,
                    "last_message_at": OPENED,
                    "initiated_by": "user",
                    "origin": "user_initiated",
                    "messages_count": 1,
                    "last_inbound_at": OPENED,
                }
                for n in ids
            ],
        )
        conn.execute(
            t.due_times.insert(),
            [_due(n, "window.closed", OPENED.isoformat(), CLOSE) for n in ids]
            + [_due(n, "conversation.ended", f"conv{n}", CLOSE) for n in ids],
        )


def _thread(n: int, window_ends: datetime) -> dict[str, Any]:
    return {
        "id": f"th{n}",
        "tenant_id": TENANT,
        "line": LINE,
        "contact_id": f"ct{n}",
        "version": 1,
        "state": {},
        "last_inbound_at": window_ends - timedelta(hours=24),
        "window_ends_at": window_ends,
        "updated_at": OPENED,
    }


def _due(n: int, kind: str, subject: str, at: datetime) -> dict[str, Any]:
    return {
        "thread_id": f"th{n}",
        "type": kind,
        "subject": subject,
        "due_at": at,
        "tenant_id": TENANT,
    }


def burst(url: str, count: int) -> dict[str, Any]:
    engine = fresh_engine(url)
    seed_closing_windows(engine, count)
    job = SchedulerJob(SqlScheduler(engine))
    started = time.perf_counter()
    ticks = 0
    while job.tick(CLOSE) > 0:
        ticks += 1
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        closed = conn.execute(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.type == "window.closed")
        ).scalar_one()
    engine.dispose()
    assert closed == count, f"{closed} of {count} window.closed emitted"
    return {
        "windows": count,
        "events": 2 * count,
        "ticks": ticks,
        "seconds_to_last_window_closed": round(elapsed, 3),
        "events_per_s": round(2 * count / elapsed),
    }


# --------------------------------------------------------------------------- the idle tick


def seed_threads(engine: Engine, count: int) -> None:
    """``count`` threads, each with one due time in the day after ``CLOSE`` (none due then)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            series = f"generate_series(0, {count - 1}) AS s(n)"
            due = "CAST(:first AS timestamptz) + (n::bigint * 86400 / :count) * interval '1 second'"
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))  # the rows below are consistent
            series = (
                "(WITH RECURSIVE s(n) AS "
                f"(SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {count - 1}) SELECT n FROM s)"
            )
            # the text UtcDateTime stores on SQLite
            due = "datetime(:first_text, '+' || (n * 86400 / :count) || ' seconds') || '.000000'"
        params = {"first": CLOSE + timedelta(seconds=1), "count": count, "opened": OPENED}
        params["first_text"] = (CLOSE + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
        _insert_series(conn, series, due, params)


def _insert_series(conn: Connection, series: str, due: str, params: dict[str, Any]) -> None:
    opened = ":opened" if conn.dialect.name == "postgresql" else "'2026-03-10 10:00:00.000000'"
    state = "'{}'"
    conn.execute(
        text(
            f"INSERT INTO contacts (id, tenant_id, created_at) "
            f"SELECT 'ct' || n, '{TENANT}', {opened} FROM {series}"
        ),
        params,
    )
    conn.execute(
        text(
            "INSERT INTO threads (id, tenant_id, line, contact_id, version, state, updated_at) "
            f"SELECT 'th' || n, '{TENANT}', '{LINE}', 'ct' || n, 1, {state}, {opened} FROM {series}"
        ),
        params,
    )
    conn.execute(
        text(
            "INSERT INTO due_times (thread_id, type, subject, due_at, tenant_id) "
            f"SELECT 'th' || n, 'window.closed', 'w' || n, {due}, '{TENANT}' FROM {series}"
        ),
        params,
    )
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE contacts, threads, due_times"))


def idle_tick(url: str, threads: int) -> dict[str, Any]:
    engine = fresh_engine(url)
    started = time.perf_counter()
    seed_threads(engine, threads)
    seeded = time.perf_counter() - started
    job = SchedulerJob(SqlScheduler(engine))
    for _ in range(20):  # warm the pool and the caches
        assert job.tick(CLOSE) == 0
    timings = []
    for _ in range(IDLE_TICKS):
        begin = time.perf_counter()
        done = job.tick(CLOSE)
        timings.append(time.perf_counter() - begin)
        assert done == 0
    plan = take_due_plan(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(t.due_times)).scalar_one()
    engine.dispose()
    return {
        "threads": threads,
        "due_rows": rows,
        "seed_seconds": round(seeded, 1),
        "median_tick_ms": round(statistics.median(timings) * 1000, 4),
        "p90_tick_ms": round(sorted(timings)[int(0.9 * len(timings))] * 1000, 4),
        "take_due_plan": plan,
    }


def take_due_plan(engine: Engine) -> str:
    """The plan of the scheduler's batch (``take_due``): the due_at index range, a LIMIT."""
    postgres = engine.dialect.name == "postgresql"
    explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        query = text(explain + TAKE_DUE_SQL[engine.dialect.name])
        rows = conn.execute(query, {"now": CLOSE, "limit": 500}).all()
    return " | ".join(str(row[0] if postgres else row[-1]).strip() for row in rows)


# --------------------------------------------------------------------------- running


def run(quick: bool) -> dict[str, Any]:
    windows = 1_000 if quick else 10_000
    small, large = (1_000, 100_000) if quick else (10_000, 1_000_000)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": quick,
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="wawindow-bench-") as folder:
        for backend, new_url in databases(Path(folder)):
            sys.stderr.write(f"scheduler bench on {backend}...\n")
            few, many = idle_tick(new_url(), small), idle_tick(new_url(), large)
            results["backends"][backend] = {
                "burst": burst(new_url(), windows),
                "idle_small": few,
                "idle_large": many,
                "idle_ratio_large_small": round(many["median_tick_ms"] / few["median_tick_ms"], 3),
            }
    return results


def render(r: dict[str, Any]) -> str:
    lines = [
        f"# wawindow scheduler benchmark ({r['when']}{', quick' if r['quick'] else ''})",
        "",
        "| backend | measure | result |",
        "|---|---|---|",
    ]
    for backend, b in r["backends"].items():
        burst_, few, many = b["burst"], b["idle_small"], b["idle_large"]
        lines += [
            f"| {backend} | {burst_['windows']:,} windows closing in one second: until the last "
            f"window.closed is in the outbox | {burst_['seconds_to_last_window_closed']} s "
            f"({burst_['events_per_s']:,} events/s, {burst_['ticks']} ticks) |",
            f"| {backend} | idle tick, {few['threads']:,} threads | {few['median_tick_ms']} ms |",
            f"| {backend} | idle tick, {many['threads']:,} threads | {many['median_tick_ms']} ms |",
            f"| {backend} | ratio {many['threads']:,} / {few['threads']:,} threads (same run) "
            f"| {b['idle_ratio_large_small']} |",
        ]
    lines.append("")
    for backend, b in r["backends"].items():
        lines.append(f"- {backend} plan of the batch query: `{b['idle_large']['take_due_plan']}`")
    return "\n".join(lines) + "\n"


def main(quick: bool = False, out: Path = ROOT / "results") -> int:
    results = run(quick)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scheduler.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "scheduler.md").write_text(render(results))
    sys.stdout.write(render(results))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    sys.exit(main(parser.parse_args().quick))
