"""The query API under load: ``wawindow serve --workers 1`` on SQLite, real HTTP.

- Session status: ``GET /v1/session-status?phone_number_id=…&contact_phone=…``
  for random contacts among SIZE, against ``GET /healthz`` (no I/O: an ``async``
  route that returns a constant) on the same server in the same run. Rounds of
  one then the other, so that both see the same machine; the medians are reported,
  and their ratio.
- Conversations: ``GET /v1/conversations?status=active`` (default page size) over
  two table sizes with the same live traffic, each on its own server: one
  connection (the latency is the cost of one request) and ``concurrency``
  connections. The query plans of the statements behind it (SQLite's ``EXPLAIN
  QUERY PLAN``) are recorded, to say which one grows with the table.

Before measuring, a sample of answers is checked (every one a 200) and counted
(windows open, conversation statuses), so the report says what was measured.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import create_engine, event

from http_load import Stats, idle_cpu_percent, measure
from seed import LINE, Dataset, phone, prepare
from server import Server, serve
from wawindow.adapters.db.query_store import SqlQueryStore
from wawindow.domain.conversations import ConversationStatus
from wawindow.domain.policy import DEFAULT_POLICY
from wawindow.service.queries import ConversationFilter, status_window

PROBES = 400  # answers checked and counted before a measurement
STATEMENT_RUNS = 15


@dataclass(frozen=True)
class Options:
    session_size: int
    sizes: tuple[int, ...]  # conversation table sizes
    live: int
    concurrency: int
    duration: float
    warmup: float
    rounds: int
    generator: str
    cache: Path
    reseed: bool

    @classmethod
    def sized(cls, quick: bool, **rest: Any) -> Options:
        """The full sizes (100,000 contacts; 10,000 and 100,000 conversations), or small ones."""
        if quick:
            return cls(session_size=2_000, sizes=(500, 2_000), live=400, **rest)
        return cls(session_size=100_000, sizes=(10_000, 100_000), live=5_000, **rest)


def run(options: Options) -> dict[str, Any]:
    """Every HTTP benchmark; the results as a JSON-ready dict."""
    datasets: dict[int, Dataset] = {}
    results: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "server": "wawindow serve --workers 1 on SQLite",
        "concurrency": options.concurrency,
        "duration_s": options.duration,
        "rounds": options.rounds,
        "cpus": os.cpu_count(),
    }
    sizes = sorted({*options.sizes, options.session_size})
    conversations: list[dict[str, Any]] = []
    idle: dict[str, float | None] = {}
    results["server_idle_cpu_percent"] = idle
    for size in sizes:
        say(f"\n== {size:,} contacts ({options.live:,} with live traffic)")
        dataset = datasets[size] = prepare(size, options.live, options.cache, options.reseed)
        with serve(dataset.database_url, options.cache / "logs") as server:
            idle[str(size)] = idle_cpu_percent(server.pid)
            say(f"server CPU with no requests: {idle[str(size)]}% of a core")
            if size == options.session_size:
                results["session_status"] = session_status(server, dataset, options)
            if size in options.sizes:
                conversations.append(active_conversations(server, dataset, options))
    results["conversations_active"] = conversations
    results["generator"] = results["session_status"]["session_status"]["generator"]
    results["seeding"] = {
        str(size): {
            "history_seconds": round(d.seconds_seeding, 1),
            "live_seconds": round(d.seconds_live, 1),
            "catch_up_items": d.catch_up.items,
            "catch_up_seconds": round(d.catch_up.seconds, 1),
        }
        for size, d in datasets.items()
    }
    return results


# --------------------------------------------------------------------------- session status


def session_status(server: Server, dataset: Dataset, options: Options) -> dict[str, Any]:
    headers = {"X-API-Key": dataset.tenant.api_key}
    rng = random.Random(4)

    def url(_: int) -> str:
        contact = quote("+" + phone(rng.randrange(dataset.size)))
        query = f"phone_number_id={LINE}&contact_phone={contact}"
        return f"{server.base_url}/v1/session-status?{query}"

    answers = probe_session_status(server, dataset, headers)
    say(f"session status answers: {answers}")
    healthz_rounds: list[Stats] = []
    status_rounds: list[Stats] = []
    for number in range(options.rounds):
        healthz_rounds.append(load(options, server, f"{server.base_url}/healthz", {}, number))
        status_rounds.append(load(options, server, url, headers, number, distinct=50_000))
    healthz, status = median_stats(healthz_rounds), median_stats(status_rounds)
    return {
        "contacts": dataset.size,
        "live": dataset.live,
        "answers": answers,
        "healthz": healthz,
        "session_status": status,
        "ratio": round(status["requests_per_s"] / healthz["requests_per_s"], 3),
        "round_ratios": [
            round(s.requests_per_s / h.requests_per_s, 3)
            for s, h in zip(status_rounds, healthz_rounds, strict=True)
        ],
        "goal": 0.6,
        "rounds_detail": {
            "healthz": [s.as_dict() for s in healthz_rounds],
            "session_status": [s.as_dict() for s in status_rounds],
        },
    }


def probe_session_status(
    server: Server, dataset: Dataset, headers: dict[str, str]
) -> dict[str, Any]:
    """A sample of answers: all 200, and how many had a window open, which conversation status."""
    rng = random.Random(5)
    counts: Counter[str] = Counter()
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        for _ in range(PROBES):
            params = {
                "phone_number_id": LINE,
                "contact_phone": "+" + phone(rng.randrange(dataset.size)),
            }
            response = client.get("/v1/session-status", params=params)
            if response.status_code != 200:
                raise RuntimeError(f"session status: {response.status_code} {response.text}")
            body = response.json()
            counts["window_active"] += body["window_active"]
            counts["free_entry_point_active"] += bool(
                (body["free_entry_point"] or {}).get("active")
            )
            counts["with_templates"] += bool(body["templates"])
            conversation = body["conversation"] or {}
            counts[f"conversation_{conversation.get('status', 'none')}"] += 1
    return {"sample": PROBES, **dict(sorted(counts.items()))}


# --------------------------------------------------------------------------- conversations


def active_conversations(server: Server, dataset: Dataset, options: Options) -> dict[str, Any]:
    headers = {"X-API-Key": dataset.tenant.api_key}
    url = f"{server.base_url}/v1/conversations?status=active"
    totals = conversation_totals(server, headers)
    say(f"conversations by status now: {totals}")
    one = [load(options, server, url, headers, n, concurrency=1) for n in range(options.rounds)]
    many = [load(options, server, url, headers, n) for n in range(options.rounds)]
    return {
        "conversations": sum(totals.values()),
        "by_status": totals,
        "one_connection": median_stats(one),
        "concurrent": median_stats(many),
        "query_plan": query_plan(dataset),
    }


def conversation_totals(server: Server, headers: dict[str, str]) -> dict[str, int]:
    totals: dict[str, int] = {}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        for status in ConversationStatus:
            response = client.get("/v1/conversations", params={"status": status.value})
            if response.status_code != 200:
                raise RuntimeError(f"conversations: {response.status_code} {response.text}")
            page = response.json()
            if page["total"] >= 50 and len(page["items"]) != 50:
                raise RuntimeError(f"a page of {len(page['items'])} items, {page['total']} in all")
            totals[status.value] = page["total"]
    return totals


def query_plan(dataset: Dataset) -> list[dict[str, Any]]:
    """The statements the store runs for ``status=active`` (page 1, as the API asks for
    it), each with SQLite's plan and the median CPU time of a few runs in this process
    (CPU time, not wall time: the machine is shared)."""
    engine = create_engine(dataset.database_url)
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    now = datetime.now(UTC)
    where = ConversationFilter(status=status_window(ConversationStatus.ACTIVE, now, DEFAULT_POLICY))
    with SqlQueryStore(engine) as store:
        store.conversations(dataset.tenant.tenant_id, where, 0, 51)
    event.remove(engine, "before_cursor_execute", record)
    plans = []
    with engine.connect() as connection:
        for statement, parameters in statements:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = [row[3] for row in rows]
            times = []
            for _ in range(STATEMENT_RUNS):
                started = time.thread_time()
                connection.exec_driver_sql(statement, parameters).fetchall()
                times.append(time.thread_time() - started)
            plans.append(
                {
                    "what": describe(statement),
                    "median_cpu_ms": round(1000 * statistics.median(times), 3),
                    "plan": plan,
                    "sql": " ".join(statement.split()),
                }
            )
    engine.dispose()
    return plans


def describe(statement: str) -> str:
    text = " ".join(statement.split())
    if text.startswith("SELECT count(*)"):
        return "count of the matching conversations (the page's total)"
    if "WHERE conversations.id IN (SELECT" in text:
        return "the page: its ids from the index, newest first, then their rows"
    if "FROM contact_identifiers" in text:
        return "the identifiers of the page's contacts"
    return text[:80]


# --------------------------------------------------------------------------- helpers


def load(
    options: Options,
    server: Server,
    url: str | Callable[[int], str],
    headers: dict[str, str],
    number: int,
    *,
    concurrency: int | None = None,
    distinct: int = 10_000,
) -> Stats:
    stats = measure(
        url,
        headers=headers,
        concurrency=concurrency or options.concurrency,
        duration=options.duration,
        warmup=options.warmup,
        distinct=distinct,
        generator=options.generator,
        server_pid=server.pid,
    )
    say(f"  round {number + 1}: {stats.line()}")
    return replace(stats, extra={"load_average": round(os.getloadavg()[0], 2)})


def median_stats(rounds: list[Stats]) -> dict[str, Any]:
    """The median of each measure over the rounds (with the first round's other fields)."""
    first = rounds[0].as_dict()
    for key in (
        "requests_per_s",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "max_ms",
        "server_cpu_percent",
        "server_cpu_ms_per_request",
        "generator_cpu_percent",
    ):
        values = [getattr(r, key) for r in rounds if getattr(r, key) is not None]
        first[key] = round(statistics.median(values), 3) if values else None
    first["requests"] = sum(r.requests for r in rounds)
    first["errors"] = sum(r.errors for r in rounds)
    first["error_kinds"] = dict(sum((Counter(r.error_kinds) for r in rounds), Counter()))
    first["load_average"] = statistics.median(r.extra["load_average"] for r in rounds)
    first.pop("extra", None)
    return first


def say(text_: str) -> None:
    sys.stderr.write(text_ + "\n")
    sys.stderr.flush()
