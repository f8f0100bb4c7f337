"""Databases for the HTTP benchmarks: SIZE contacts, each with a thread and one conversation.

Everything is written by wawindow's own code: the tenant, its line and its
templates through the command line (``tenant create``, ``line add``,
``templates import``), and the traffic through the service layer's ``Ingestor``
on the SQL store, in-process, as the webhook route and ``wawindow import`` do:
Meta webhook bodies parsed by ``parse_webhook`` and outbound send records parsed
as ``wawindow import`` reads them. Bodies carry many contacts each, so that one
transaction stores a thousand contacts' facts.

The contacts are of two kinds:

- **history** (SIZE - LIVE contacts): conversations 4 to 30 days old, ended by
  timeout, of every origin (user-initiated, free entry point, business-initiated
  with utility and marketing templates). They look the same whenever the
  benchmark runs, so they are seeded once and cached in ``bench/.cache``.
- **live** (LIVE contacts): traffic of the last minutes and hours, placed
  relative to the moment of the run, because the server answers for its own
  clock: active conversations with an open window, inactive ones with an open
  window, free entry points, a closed window with a conversation still open,
  business-initiated conversations with no window, and conversations closed
  through the API (``manual_close``) while the window is still open. They are
  added to a fresh copy of the cached history on every run.

The live set is the same size at every SIZE, so a larger SIZE means a longer
history behind the same current traffic.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from server import Tenant, create_tenant, run_cli
from wawindow.adapters.db.migrate import MIGRATIONS
from wawindow.adapters.db.query_store import SqlQueryStore
from wawindow.adapters.meta.payload import parse_webhook
from wawindow.adapters.ndjson_log import parse_line
from wawindow.bootstrap import Services, build_services
from wawindow.config import Settings
from wawindow.domain.conversations import conversation_id
from wawindow.domain.facts import CloseReason, Fact, ManualClose
from wawindow.domain.identity import Identity
from wawindow.entrypoints.worker import worker_loop

LINE = "106540352242922"
ACCOUNT = "102290129340398"
APP_SECRET = "bench-app-secret"
VERIFY_TOKEN = "bench-verify-token"
BATCH = 1_000  # contacts per transaction
SEED_VERSION = 1  # bump when the scenarios below change: the cached histories are rebuilt

# Mobile numbers of five markets: a prefix and the number of digits after it.
NUMBER_PLANS = (("2782", 7), ("4477", 8), ("16502", 6), ("9198", 8), ("55119", 8))

TEMPLATES = {
    "data": [
        {
            "name": name,
            "language": language,
            "status": status,
            "category": category,
            "id": f"17{index:014d}",
            "components": [{"type": "BODY", "text": body}],
        }
        for index, (name, language, status, category, body) in enumerate(
            (
                ("order_update", "en_US", "APPROVED", "UTILITY", "Order {{1}} is {{2}}."),
                ("order_update", "pt_BR", "APPROVED", "UTILITY", "Pedido {{1}}: {{2}}."),
                ("delivery_slot", "en_US", "APPROVED", "UTILITY", "Pick a slot: {{1}}"),
                ("payment_due", "en_US", "APPROVED", "UTILITY", "{{1}} is due on {{2}}."),
                ("login_code", "en_US", "APPROVED", "AUTHENTICATION", "Your code is {{1}}."),
                ("spring_sale", "en_US", "APPROVED", "MARKETING", "Hi {{1}}, 20% off today."),
                ("win_back", "en_US", "PAUSED", "MARKETING", "We miss you, {{1}}."),
                ("raffle", "en_US", "REJECTED", "MARKETING", "Win {{1}}!"),
            )
        )
    ]
}


def phone(index: int) -> str:
    """The WhatsApp id (international digits) of contact ``index``."""
    prefix, digits = NUMBER_PLANS[index % len(NUMBER_PLANS)]
    return prefix + str(index // len(NUMBER_PLANS)).zfill(digits)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Inbound:
    at: datetime
    referral: bool = False


@dataclass(frozen=True)
class Outbound:
    at: datetime
    category: str | None = None  # a template of this category; None: free-form text


@dataclass(frozen=True)
class Status:
    at: datetime
    status: str
    of: int  # which outbound message of the contact


@dataclass(frozen=True)
class Close:
    """A close through the API, at the moment of the run."""


Step = Inbound | Outbound | Status | Close


def history_steps(index: int, anchor: datetime) -> list[Step]:
    """One ended conversation, 4 to 30 days before ``anchor``."""
    rng = random.Random(index)
    start = anchor - timedelta(days=4, minutes=rng.randrange(26 * 24 * 60))
    minute = timedelta(minutes=1)
    kind = index % 10
    if kind == 7 or kind == 8:  # business-initiated, no answer
        sent = Outbound(start, "utility" if kind == 7 else "marketing")
        return [sent, *statuses(0, start, read=kind == 7)]
    reply = start + rng.randrange(1, 10) * minute
    steps: list[Step] = [Inbound(start, referral=kind == 6), Outbound(reply)]
    steps += statuses(0, reply, read=kind != 6)
    if kind == 9:  # a second exchange, the same conversation
        again = reply + rng.randrange(10, 120) * minute
        steps += [Inbound(again), Outbound(again + minute), *statuses(1, again + minute)]
    return steps


def live_steps(index: int, now: datetime) -> list[Step]:
    """Traffic of the last minutes and hours before ``now``; see the module's docstring."""
    rng = random.Random(-index)
    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    kind = index % 10
    if kind <= 2:  # active, window open
        start = now - rng.randrange(2, 9) * minute
        return [Inbound(start), Outbound(start + minute / 2), *statuses(0, start + minute / 2)]
    if kind <= 4:  # inactive, window open
        start = now - rng.randrange(60, 20 * 60) * minute
        reply = start + 2 * minute
        return [Inbound(start), Outbound(reply), *statuses(0, reply, read=True)]
    if kind == 5:  # a free entry point (a reply to an ad lead), window open
        start = now - rng.randrange(60, 20 * 60) * minute
        return [Inbound(start, referral=True), Outbound(start + minute), *statuses(0, start)]
    if kind == 6:  # window closed, the conversation still open (inactive)
        hours_ago = rng.randrange(25, 41)
        sent = now - (hours_ago - 20) * hour
        return [Inbound(now - hours_ago * hour), Outbound(sent, "utility"), *statuses(0, sent)]
    if kind <= 8:  # business-initiated a few minutes ago: active, no window
        sent = now - rng.randrange(2, 9) * minute
        return [Outbound(sent, "marketing" if kind == 7 else "utility"), *statuses(0, sent)]
    start = now - rng.randrange(60, 5 * 60) * minute  # closed through the API, window open
    return [Inbound(start), Outbound(start + minute), *statuses(0, start + minute), Close()]


def statuses(of: int, sent: datetime, read: bool = False) -> list[Step]:
    second = timedelta(seconds=1)
    found: list[Step] = [
        Status(sent + second, "sent", of),
        Status(sent + 3 * second, "delivered", of),
    ]
    if read:
        found.append(Status(sent + 5 * 60 * second, "read", of))
    return found


# --------------------------------------------------------------------------- bodies


def unix(at: datetime) -> str:
    return str(int(at.timestamp()))


def message_id(index: int, direction: str, number: int) -> str:
    return f"wamid.bench.{index}.{direction}{number}"


def inbound_change(index: int, step: Inbound, number: int) -> dict[str, Any]:
    wa_id = phone(index)
    message: dict[str, Any] = {
        "from": wa_id,
        "id": message_id(index, "in", number),
        "timestamp": unix(step.at),
        "type": "text",
        "text": {"body": "Hi, is my order on its way?"},
    }
    if step.referral:
        message["referral"] = {
            "source_type": "ad",
            "source_id": "120210000000000001",
            "source_url": "https://fb.me/bench",
            "ctwa_clid": f"clid-{index}",
        }
    return _change(
        {
            "contacts": [{"wa_id": wa_id, "profile": {"name": f"Contact {index}"}}],
            "messages": [message],
        }
    )


def status_change(index: int, step: Status) -> dict[str, Any]:
    item = {
        "id": message_id(index, "out", step.of),
        "status": step.status,
        "timestamp": unix(step.at),
        "recipient_id": phone(index),
    }
    return _change({"statuses": [item]})


def _change(value: dict[str, Any]) -> dict[str, Any]:
    metadata = {"display_phone_number": "15550783881", "phone_number_id": LINE}
    return {
        "field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
    }


def outbound_record(index: int, step: Outbound, number: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "outbound",
        "phone_number_id": LINE,
        "to": phone(index),
        "id": message_id(index, "out", number),
        "timestamp": unix(step.at),
        "type": "text",
    }
    if step.category is not None:
        name = "spring_sale" if step.category == "marketing" else "order_update"
        record.update(
            type="template",
            template={"name": name, "language": {"code": "en_US"}},
            category=step.category,
        )
    return record


# --------------------------------------------------------------------------- ingesting


class Seeder:
    """Feeds scenarios to the ``Ingestor`` of one in-process ``Services``."""

    def __init__(self, database_url: str, tenant_id: str) -> None:
        self.services: Services = build_services(Settings(database_url=database_url))
        self.tenant_id = tenant_id
        self.bodies = 0
        self.facts = 0

    def close(self) -> None:
        self.services.engine.dispose()

    def catch_up(self, label: str) -> CatchUp:
        """Run the background jobs (the scheduler, the webhook fan-out) until they are idle.

        The history spans weeks but is seeded in minutes, so when a server starts on
        it, weeks of due events (windows closing, conversations ending) are due at
        once. A server that had run all along would have emitted them as they came;
        one that starts with the backlog spends minutes working it off beside the
        requests, and a measurement taken then measures the catch-up.
        """
        loop = worker_loop(self.services)
        started, done = time.perf_counter(), 0
        while work := loop.run_once():
            done += work
        seconds = time.perf_counter() - started
        sys.stderr.write(f"  {label}: {done:,} items of background work in {seconds:.1f}s\n")
        return CatchUp(done, seconds)

    def run(
        self,
        label: str,
        indexes: Sequence[int],
        steps_of: Callable[[int], list[Step]],
        received_at: Callable[[datetime], datetime],
    ) -> float:
        """Ingest every contact's steps, BATCH contacts at a time; the seconds it took."""
        started = time.perf_counter()
        for first in range(0, len(indexes), BATCH):
            batch = {index: steps_of(index) for index in indexes[first : first + BATCH]}
            self._batch(batch, received_at)
            progress(label, first + len(batch), len(indexes), started)
        return time.perf_counter() - started

    def _batch(
        self, plans: dict[int, list[Step]], received_at: Callable[[datetime], datetime]
    ) -> None:
        """Step k of every contact together: one webhook body and one outbound log each."""
        counters = {index: {"in": 0, "out": 0} for index in plans}
        closes: list[int] = []
        for position in range(max(len(steps) for steps in plans.values())):
            changes: list[dict[str, Any]] = []
            records: list[dict[str, Any]] = []
            for index, steps in plans.items():
                if position >= len(steps):
                    continue
                step, counter = steps[position], counters[index]
                if isinstance(step, Inbound):
                    changes.append(inbound_change(index, step, counter["in"]))
                    counter["in"] += 1
                elif isinstance(step, Outbound):
                    records.append(outbound_record(index, step, counter["out"]))
                    counter["out"] += 1
                elif isinstance(step, Status):
                    changes.append(status_change(index, step))
                else:
                    closes.append(index)
            self._webhook(changes, received_at)
            self._outbound_log(records, received_at)
        for index in closes:
            self._close(index, received_at(datetime.now(UTC)))

    def _webhook(
        self, changes: list[dict[str, Any]], received_at: Callable[[datetime], datetime]
    ) -> None:
        if not changes:
            return
        envelope = {
            "object": "whatsapp_business_account",
            "entry": [{"id": ACCOUNT, "changes": changes}],
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        parsed = parse_webhook(body)
        self._ingest(body, parsed.facts, parsed.accounts, received_at)

    def _outbound_log(
        self, records: list[dict[str, Any]], received_at: Callable[[datetime], datetime]
    ) -> None:
        if not records:
            return
        lines = [json.dumps(record, separators=(",", ":")).encode() for record in records]
        facts = [fact for line in lines for fact in parse_line(line)]
        self._ingest(b"\n".join(lines), facts, (), received_at)

    def _ingest(
        self,
        body: bytes,
        facts: Sequence[Fact],
        accounts: Sequence[str],
        received_at: Callable[[datetime], datetime],
    ) -> None:
        latest = max(fact.at for fact in facts if fact.at is not None)
        with self.services.ingest_store() as store:
            outcome = self.services.ingestor.ingest(
                store, "meta", body, facts, accounts, received_at(latest)
            )
        if outcome.dropped or outcome.duplicate:
            raise RuntimeError(
                f"seeding dropped facts: {outcome.dropped}, duplicate={outcome.duplicate}"
            )
        self.bodies += 1
        self.facts += outcome.stored

    def _close(self, index: int, now: datetime) -> None:
        """What ``POST /v1/conversations/{id}/close`` does: find the conversation by its
        id (named after its first message, the contact's first inbound), fold a close in."""
        svc = self.services
        conversation = conversation_id(LINE, message_id(index, "in", 0))
        with SqlQueryStore(svc.engine) as reader:
            found = reader.conversation(self.tenant_id, conversation)
        if found is None:
            raise RuntimeError(f"no conversation {conversation} for contact {index}")
        fact = ManualClose(
            LINE, f"close_{uuid.uuid4().hex}", now, Identity(), CloseReason.MANUAL_CLOSE
        )
        with svc.ingest_store() as store:
            svc.ingestor.close(store, found.thread_id, fact, now)


def progress(label: str, done: int, total: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed else 0.0
    left = (total - done) / rate if rate else 0.0
    sys.stderr.write(
        f"  {label}: {done:,}/{total:,} contacts ({rate:,.0f}/s, {left:,.0f} s left)\n"
    )
    sys.stderr.flush()


# --------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class CatchUp:
    items: int  # what the background jobs did (due events emitted, events fanned out…)
    seconds: float

    def __add__(self, other: CatchUp) -> CatchUp:
        return CatchUp(self.items + other.items, self.seconds + other.seconds)


@dataclass(frozen=True)
class Dataset:
    """A database ready for ``serve``: history from the cache plus this run's live traffic."""

    size: int
    live: int
    database_url: str
    tenant: Tenant
    live_at: datetime  # "now" of the live traffic
    seconds_seeding: float  # history, when it was seeded now; else 0
    seconds_live: float
    catch_up: CatchUp  # the background jobs' backlog, worked off before serving


def cache_key(size: int, live: int) -> str:
    """Size, live set, the scenarios' version and the migrations: any migration change
    (a new index in a placeholder migration too) seeds again."""
    digest = hashlib.sha256(str(SEED_VERSION).encode())
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return f"{size}-{live}-{digest.hexdigest()[:12]}"


def prepare(size: int, live: int, cache: Path, reseed: bool = False) -> Dataset:
    """The cached history for ``size`` (seeded first when missing), copied, plus live traffic."""
    if not 0 < live <= size:
        raise ValueError(f"live must be in 1..{size}, not {live}")
    cache = cache.resolve()  # the server runs elsewhere: its database URL is absolute
    cache.mkdir(parents=True, exist_ok=True)
    key = cache_key(size, live)
    history, meta_path = cache / f"history-{key}.db", cache / f"history-{key}.json"
    seconds_seeding = 0.0
    if reseed or not meta_path.exists():
        seconds_seeding = seed_history(history, meta_path, size, live)
    meta = json.loads(meta_path.read_text())
    working = cache / f"run-{size}.db"
    for stale in (working, *(working.with_name(working.name + s) for s in ("-wal", "-shm"))):
        stale.unlink(missing_ok=True)
    shutil.copyfile(history, working)
    database_url = f"sqlite:///{working}"
    tenant = Tenant(meta["tenant_id"], meta["api_key"], LINE)
    seeder = Seeder(database_url, tenant.tenant_id)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        backlog = seeder.catch_up(f"the history of {size:,}'s due events")
        indexes = list(range(size - live, size))
        seconds_live = seeder.run(
            f"live traffic into {size:,}", indexes, lambda i: live_steps(i, now), lambda _: now
        )
        backlog += seeder.catch_up(f"the live traffic's due events in {size:,}")
    finally:
        seeder.close()
    checkpoint(working)
    return Dataset(size, live, database_url, tenant, now, seconds_seeding, seconds_live, backlog)


def seed_history(path: Path, meta_path: Path, size: int, live: int) -> float:
    """Tenant, line and templates by the command line, then the history by the Ingestor."""
    for old in path.parent.glob(f"history-{size}-{live}-*"):
        old.unlink()
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    url = f"sqlite:///{partial}"
    tenant = create_tenant(url, "bench", LINE, APP_SECRET, VERIFY_TOKEN)
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "templates.json"
        listing.write_text(json.dumps(TEMPLATES))
        run_cli(url, "templates", "import", str(listing), "--phone-number-id", LINE)
    anchor = datetime.now(UTC).replace(microsecond=0)
    seeder = Seeder(url, tenant.tenant_id)
    try:
        seconds = seeder.run(
            f"history of {size:,}",
            list(range(size - live)),
            lambda i: history_steps(i, anchor),
            lambda latest: latest + timedelta(seconds=2),
        )
        facts, bodies = seeder.facts, seeder.bodies
    finally:
        seeder.close()
    checkpoint(partial)
    partial.replace(path)
    meta = {
        "size": size,
        "live": live,
        "tenant_id": tenant.tenant_id,
        "api_key": tenant.api_key,
        "line": LINE,
        "seeded_at": anchor.isoformat(),
        "seconds": round(seconds, 1),
        "facts": facts,
        "bodies": bodies,
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return seconds


def checkpoint(path: Path) -> None:
    """Fold the WAL into the database file, so that copying the file copies everything."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
