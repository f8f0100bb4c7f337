"""wawindow benchmarks: ``python bench/run.py [--quick]``.

Measures, in one run so that the ratios are comparable on a noisy machine:

- the fold: 100,000 facts into one contact, and the same number into 10,000
  contacts (facts/s each, and their ratio: the fold is O(1) per fact in the
  length of a contact's history, so the two should be close);
- late facts: statuses arriving in reverse order into a long history (each
  refolds only from the nearest snapshot);
- the parse rate of the Meta webhook fixtures (bodies/s).

Writes ``bench/results/latest.json`` and ``bench/results/latest.md``.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--only", choices=["scheduler"], help="run only these benchmarks")
    args = parser.parse_args()
    if args.only == "scheduler":
        return scheduler.main(args.quick, args.out)
    total, contacts, repeats = (10_000, 1_000, 1) if args.quick else (100_000, 10_000, 3)
    one = best_of(repeats, lambda: fold_one_contact(total))
    many = best_of(repeats, lambda: fold_many_contacts(total, contacts))
    late = best_of(repeats, lambda: late_statuses(total, 6))
    parse_rate, body_count = parse_fixtures(20 if args.quick else 200)
    results = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "quick": args.quick,
        "fold_one_contact": {"facts": total, "facts_per_s": round(one)},
        "fold_many_contacts": {"facts": total, "contacts": contacts, "facts_per_s": round(many)},
        "one_vs_many_ratio": round(one / many, 3),
        "late_read_receipts": {"facts": total, "delay": 6, "facts_per_s": round(late)},
        "in_order_vs_late_ratio": round(one / late, 3),
        "parse_fixture_bodies": {"bodies": body_count, "bodies_per_s": round(parse_rate)},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "latest.md").write_text(render(results))
    sys.stdout.write(render(results))
    return 0


def render(r: dict[str, Any]) -> str:
    one, many = r["fold_one_contact"], r["fold_many_contacts"]
    late, parse = r["late_read_receipts"], r["parse_fixture_bodies"]
    return (
        f"# wawindow benchmark ({r['when']}, Python {r['python']}"
        f"{', quick' if r['quick'] else ''})\n\n"
        "| measure | result |\n|---|---|\n"
        f"| fold, {one['facts']:,} facts into one contact | {one['facts_per_s']:,} facts/s |\n"
        f"| fold, {many['facts']:,} facts into {many['contacts']:,} contacts "
        f"| {many['facts_per_s']:,} facts/s |\n"
        f"| ratio one contact / many contacts (same run) | {r['one_vs_many_ratio']} |\n"
        f"| fold, {late['facts']:,} facts into one contact, every read receipt "
        f"{late['delay']} facts late | {late['facts_per_s']:,} facts/s |\n"
        f"| ratio in order / read receipts late (same run) | {r['in_order_vs_late_ratio']} |\n"
        f"| parse Meta fixture bodies ({parse['bodies']} distinct) "
        f"| {parse['bodies_per_s']:,} bodies/s |\n"
    )


if __name__ == "__main__":
    sys.exit(main())
