"""wawindow benchmarks: ``python bench/run.py [--quick] [--only fold|http]``.

Two parts, each measured in one run so that its ratios are comparable on a
noisy machine:

``fold`` (in-process)
    - the fold: 100,000 facts into one contact, and the same number into 10,000
      contacts (facts/s each, and their ratio: the fold is O(1) per fact in the
      length of a contact's history, so the two should be close);
    - late facts: statuses arriving in reverse order into a long history (each
      refolds only from the nearest snapshot);
    - the parse rate of the Meta webhook fixtures (bodies/s).

``http`` (``wawindow serve --workers 1`` on SQLite, real HTTP; see http_bench.py)
    - ``GET /v1/session-status`` for random contacts among 100,000, 32
      connections, against the no-op ``GET /healthz`` in the same run;
    - ``GET /v1/conversations?status=active`` over 10,000 and 100,000
      conversations.
    The seeded databases are cached in ``bench/.cache`` (the first full run seeds
    them through wawindow's ingest path, which takes a long while).

Writes ``bench/results/latest.json`` and ``latest.md`` and the table in
README.md between the bench markers. ``--only`` runs one part and keeps the
other part's last results. ``--quick`` (small sizes, a smoke run) writes
``bench/.cache/quick.json`` and ``quick.md`` and leaves README.md alone.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import scheduler  # bench/scheduler.py: python bench/run.py --only scheduler
from wawindow.adapters.meta.payload import parse_webhook
from wawindow.domain.facts import InboundMessage, OutboundMessage, StatusUpdate, ThreadFact
from wawindow.domain.identity import Identity
from wawindow.domain.policy import DEFAULT_POLICY
from wawindow.domain.timeline import ThreadLog

ROOT = Path(__file__).resolve().parent
README = ROOT.parent / "README.md"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"
FEW_ANSWERS = 5  # answers per connection below which a round's latencies are truncated
FIXTURES = ROOT.parent.parent / "shared" / "fixtures" / "meta-webhooks" / "pywa"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LINE = "106540352242922"


def conversation_facts(user: str, first: int, count: int) -> Iterator[ThreadFact]:
    """A realistic exchange: inbound, templated/free-form reply, sent, delivered, read."""
    who = Identity.of(wa_id=user)
    for n in range(first, first + count, 5):
        at = START + timedelta(minutes=7 * n)
        yield InboundMessage(LINE, f"in.{user}.{n}", at, who, "text")
        out = f"out.{user}.{n}"
        if n % 3:
            yield OutboundMessage(LINE, out, at + timedelta(seconds=30), who, "text")
        else:
            yield OutboundMessage(
                LINE, out, at + timedelta(seconds=30), who, "template", category="utility"
            )
        for offset, status in ((31, "sent"), (33, "delivered"), (90, "read")):
            yield StatusUpdate(LINE, out, status, at + timedelta(seconds=offset), who)


def fold_one_contact(total: int) -> float:
    facts = list(conversation_facts("16505550000", 0, total))
    log = ThreadLog(LINE, DEFAULT_POLICY)
    started = time.perf_counter()
    for fact in facts:
        log.add(fact)
    return len(facts) / (time.perf_counter() - started)


def fold_many_contacts(total: int, contacts: int) -> float:
    per_contact = total // contacts
    facts = [
        fact for c in range(contacts) for fact in conversation_facts(f"1650{c:07d}", 0, per_contact)
    ]
    facts.sort(key=lambda f: f.at)  # as they arrive live: interleaved across contacts
    logs: dict[str, ThreadLog] = {}
    started = time.perf_counter()
    for fact in facts:
        user = fact.user.wa_id or ""
        log = logs.get(user)
        if log is None:
            log = logs[user] = ThreadLog(LINE, DEFAULT_POLICY)
        log.add(fact)
    return len(facts) / (time.perf_counter() - started)


def late_statuses(total: int, delay: int) -> float:
    """Every read receipt arrives ``delay`` facts late (after the next exchange began),
    so each one lands in the past and refolds from the snapshot before it."""
    facts = list(conversation_facts("16505550000", 0, total))
    arrival: list[ThreadFact] = []
    held: list[tuple[int, ThreadFact]] = []
    for index, fact in enumerate(facts):
        if isinstance(fact, StatusUpdate) and fact.status == "read":
            held.append((index + delay, fact))
            continue
        arrival.append(fact)
        while held and held[0][0] <= index:
            arrival.append(held.pop(0)[1])
    arrival.extend(f for _, f in held)
    log = ThreadLog(LINE, DEFAULT_POLICY)
    started = time.perf_counter()
    for fact in arrival:
        log.add(fact)
    return len(arrival) / (time.perf_counter() - started)


def parse_fixtures(rounds: int) -> tuple[float, int]:
    bodies = [
        json.dumps(body).encode()
        for path in sorted(FIXTURES.glob("*.json"))
        for body in json.loads(path.read_text()).values()
    ]
    started = time.perf_counter()
    for _ in range(rounds):
        for body in bodies:
            parse_webhook(body)
    return len(bodies) * rounds / (time.perf_counter() - started), len(bodies)


def best_of(repeats: int, measure: Callable[[], float]) -> float:
    """The median of a few runs: robust to a noisy neighbour on a shared machine."""
    return statistics.median(measure() for _ in range(repeats))


def fold_results(quick: bool) -> dict[str, Any]:
    total, contacts, repeats = (10_000, 1_000, 1) if quick else (100_000, 10_000, 3)
    one = best_of(repeats, lambda: fold_one_contact(total))
    many = best_of(repeats, lambda: fold_many_contacts(total, contacts))
    late = best_of(repeats, lambda: late_statuses(total, 6))
    parse_rate, body_count = parse_fixtures(20 if quick else 200)
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "quick": quick,
        "repeats": repeats,
        "fold_one_contact": {"facts": total, "facts_per_s": round(one)},
        "fold_many_contacts": {"facts": total, "contacts": contacts, "facts_per_s": round(many)},
        "one_vs_many_ratio": round(one / many, 3),
        "late_read_receipts": {"facts": total, "delay": 6, "facts_per_s": round(late)},
        "in_order_vs_late_ratio": round(one / late, 3),
        "parse_fixture_bodies": {"bodies": body_count, "bodies_per_s": round(parse_rate)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", choices=("fold", "http", "scheduler"), help="run one part only")
    parser.add_argument(
        "--out", type=Path, help="results folder (bench/results; quick: bench/.cache)"
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="HTTP load generator (auto: wrk when installed)",
    )
    parser.add_argument("--duration", type=float, help="seconds per HTTP round (10; quick: 3)")
    parser.add_argument("--rounds", type=int, help="HTTP rounds per measure (3; quick: 1)")
    parser.add_argument("--reseed", action="store_true", help="seed the cached databases again")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache")
    parser.add_argument(
        "--render-only", action="store_true", help="measure nothing: rewrite the .md and README"
    )
    args = parser.parse_args()
    if args.only == "scheduler":
        return scheduler.main(args.quick, args.out or ROOT / "results")
    name = "quick" if args.quick else "latest"
    out: Path = args.out or (args.cache if args.quick else ROOT / "results")
    results = load_results(out / f"{name}.json")
    if args.only in (None, "fold") and not args.render_only:
        results["fold"] = fold_results(args.quick)
    if args.only in (None, "http") and not args.render_only:
        from http_bench import Options, run

        options = Options.sized(
            args.quick,
            concurrency=32,
            duration=args.duration or (3.0 if args.quick else 10.0),
            warmup=1.0 if args.quick else 3.0,
            rounds=args.rounds or (1 if args.quick else 3),
            generator=args.generator,
            cache=args.cache,
            reseed=args.reseed,
        )
        results["http"] = {**run(options), "quick": args.quick}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    document = f"# wawindow benchmarks\n\n{render(results)}"
    (out / f"{name}.md").write_text(document)
    if not args.quick:
        update_readme(README, render(results))
    sys.stdout.write(document)
    return 0


def load_results(path: Path) -> dict[str, Any]:
    """The results of earlier runs, so that running one part keeps the other's."""
    if not path.exists():
        return {}
    found: dict[str, Any] = json.loads(path.read_text())
    if "fold_one_contact" in found:  # written before the HTTP part existed
        return {"fold": found}
    return found


def render(results: dict[str, Any]) -> str:
    parts = []
    if "fold" in results:
        parts.append(render_fold(results["fold"]))
    if "http" in results:
        parts.append(render_http(results["http"]))
    return "\n".join(parts)


def render_fold(r: dict[str, Any]) -> str:
    one, many = r["fold_one_contact"], r["fold_many_contacts"]
    late, parse = r["late_read_receipts"], r["parse_fixture_bodies"]
    repeats = r.get("repeats", 1 if r["quick"] else 3)
    runs = f"the fold figures are medians of {repeats} runs" if repeats > 1 else "one run each"
    return (
        "| measure (in-process) | result |\n|---|---|\n"
        f"| fold, {one['facts']:,} facts into one contact | {one['facts_per_s']:,} facts/s |\n"
        f"| fold, {many['facts']:,} facts into {many['contacts']:,} contacts "
        f"| {many['facts_per_s']:,} facts/s |\n"
        f"| ratio one contact / many contacts (same run) | {r['one_vs_many_ratio']} |\n"
        f"| fold, {late['facts']:,} facts into one contact, every read receipt "
        f"{late['delay']} facts late | {late['facts_per_s']:,} facts/s |\n"
        f"| ratio in order / read receipts late (same run) | {r['in_order_vs_late_ratio']} |\n"
        f"| parse Meta fixture bodies ({parse['bodies']} distinct) "
        f"| {parse['bodies_per_s']:,} bodies/s |\n"
        f"\n(Python {r['python']}, {r['when'][:10]}"
        f"{', quick' if r['quick'] else ''}; {runs}.)\n"
    )


def render_http(r: dict[str, Any]) -> str:
    session = r["session_status"]
    status, healthz = session["session_status"], session["healthz"]
    rows = [
        (
            f"`GET /v1/session-status`, random contacts among {session['contacts']:,}, "
            f"{status['concurrency']} connections",
            _load(status),
        ),
        ("`GET /healthz` (no I/O), same server, same run", _load(healthz)),
        (
            f"ratio session status / healthz, requests/s (goal ≥ {session['goal']})",
            f"**{session['ratio']}** (rounds: {', '.join(map(str, session['round_ratios']))})",
        ),
        (
            "server CPU per request: session status / healthz",
            f"{_ms(status['server_cpu_ms_per_request'])} / "
            f"{_ms(healthz['server_cpu_ms_per_request'])}",
        ),
    ]
    listings = r["conversations_active"]
    for listing in listings:
        one, many = listing["one_connection"], listing["concurrent"]
        rows.append(
            (
                f"`GET /v1/conversations?status=active`, {listing['conversations']:,} "
                f"conversations ({listing['by_status']['active']:,} active), 1 connection",
                f"p50 {_ms(one['p50_ms'])}, p99 {_ms(one['p99_ms'])}; "
                f"server CPU {_ms(one['server_cpu_ms_per_request'])} per request",
            )
        )
        rows.append(
            (
                f"same, {listing['conversations']:,} conversations, "
                f"{many['concurrency']} connections",
                _load(many),
            )
        )
    if len(listings) >= 2:
        small, large = listings[0]["one_connection"], listings[-1]["one_connection"]
        sizes = f"{listings[-1]['conversations']:,} / {listings[0]['conversations']:,}"
        cpu = large["server_cpu_ms_per_request"] / small["server_cpu_ms_per_request"]
        rows.append(
            (
                f"ratio {sizes} conversations, 1 connection (1.0: independent of the table size)",
                f"**{cpu:.2f}** in server CPU per request, "
                f"{large['p50_ms'] / small['p50_ms']:.2f} in p50",
            )
        )
    rows.extend(_background_rows(r))
    table = "| measure (HTTP) | result |\n|---|---|\n"
    table += "".join(f"| {measure} | {result} |\n" for measure, result in rows)
    table += (
        f"\n({r['server']}, {r['cpus']} CPUs shared with the load generator ({r['generator']}); "
        f"{_rounds(r['rounds'])} of {r['duration_s']:g} s each; {r['when'][:10]}"
        f"{', quick' if r['quick'] else ''}.)\n"
    )
    return table + "\n" + render_statements(listings)


def _background_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The background jobs' catch-up before serving, and the server's CPU with no requests
    (results of runs before these were recorded have neither)."""
    idle, seeding = r.get("server_idle_cpu_percent"), r.get("seeding", {})
    if not idle:
        return []
    caught_up = ", ".join(
        f"{int(size):,} contacts: {s['catch_up_items']:,} items in {s['catch_up_seconds']:g} s"
        for size, s in seeding.items()
        if "catch_up_items" in s
    )
    at_rest = ", ".join(f"{int(size):,} contacts: {cpu}%" for size, cpu in idle.items())
    return [
        ("background jobs caught up before serving (due events, fan-out)", caught_up),
        ("server CPU with no requests, before measuring (% of one core)", at_rest),
    ]


def render_statements(listings: list[dict[str, Any]]) -> str:
    """Each SQL statement behind the listing: its time at each table size and its plan."""
    sizes = [f"{listing['conversations']:,}" for listing in listings]
    table = (
        "| statement behind `GET /v1/conversations?status=active` | "
        + " | ".join(f"{size} conversations" for size in sizes)
        + " | SQLite's plan |\n|---|"
        + "---|" * len(sizes)
        + "---|\n"
    )
    for position, statement in enumerate(listings[0]["query_plan"]):
        times = [
            _ms(listing["query_plan"][position]["median_cpu_ms"])
            for listing in listings
            if position < len(listing["query_plan"])
        ]
        plan = "; ".join(listings[-1]["query_plan"][position]["plan"])
        table += f"| {statement['what']} | {' | '.join(times)} | `{plan}` |\n"
    return table + (
        "\n(The median CPU time of 15 runs of each statement in-process, with its parameters;"
        " the plan is the one at the largest size.)\n"
    )


def _load(stats: dict[str, Any]) -> str:
    text = (
        f"{stats['requests_per_s']:,.0f} req/s, p50 {_ms(stats['p50_ms'])}, "
        f"p99 {_ms(stats['p99_ms'])}, {stats['errors']} errors"
    )
    if stats["requests"] < FEW_ANSWERS * stats["concurrency"]:
        text += (
            f" (only {stats['requests']:,} answers: requests still waiting when a round"
            " ended are not in the latencies)"
        )
    return text


def _rounds(count: int) -> str:
    return f"medians of {count} rounds" if count > 1 else "one round"


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def update_readme(path: Path, table: str) -> None:
    """Replace the text between the bench markers of README.md."""
    text = path.read_text()
    start, end = text.index(README_START), text.index(README_END)
    command = "`.venv/bin/python bench/run.py`"
    guide = "[bench/README.md](bench/README.md)"
    body = (
        f"{README_START}\n{table}\n(Both from {command}; how to read them: {guide}.)\n{README_END}"
    )
    path.write_text(text[:start] + body + text[end + len(README_END) :])


if __name__ == "__main__":
    sys.exit(main())
