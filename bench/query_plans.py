"""The query API's reads over large tables: their plans and times at two table sizes.

``python bench/query_plans.py [--sizes 10000 100000] [--postgres] [--explain-only]``

Fills a fresh database (SQLite, and PostgreSQL with ``--postgres``: a throwaway
server as the tests start one) with one tenant's conversations — two per contact,
started over the past year, the same ``RECENT`` ones active or inactive now at
every size — plus a tenth as many of another tenant, runs ``ANALYZE``, and then for each read of
``GET /v1/conversations?status=…`` (and its cursor, and a customer filter) and
``GET /v1/session-status``:

- captures the SQL the stores send (as the API sends it: same functions, same
  parameters) and prints the database's plan for each statement
  (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL);
- times the read (median of ``--repeat`` runs, in milliseconds);
- counts its work, which a busy machine does not blur: SQLite's virtual machine
  instructions (hundreds), PostgreSQL's buffer pages touched.

A read whose work stays flat from the smaller size to the larger does not grow
with the table. Writes ``bench/results/query_plans.md``.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.query_store import SqlQueryStore
from wawindow.adapters.db.session_reader import SqlSessionReader
from wawindow.domain.conversations import ConversationStatus
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.domain.policy import DEFAULT_POLICY
from wawindow.service.contacts import session_status
from wawindow.service.queries import ConversationFilter, list_conversations, status_window

sys.path.insert(0, str(Path(__file__).parent.parent))  # the tests' helpers, for the plans
from tests.support.plans import capturing, explain

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TENANT, OTHER = "tn_bench", "tn_other"
LINE, OTHER_LINE = "106540352242922", "999000111"
RESULTS = Path(__file__).parent / "results"
BATCH = 5_000
NOTE = (
    "Times are medians in milliseconds and move with the machine's load; the work columns "
    "(SQLite's VM instructions, PostgreSQL's buffer pages) do not. A read whose work stays "
    "flat from one size to the next does not grow with the table. The `total` of a list is "
    "an exact count of what matches: a few rows for the running statuses and for a contact, "
    "but every conversation of the tenant for `status=ended` or no filter, the part of those "
    "reads that grows with the table."
)


# --------------------------------------------------------------------------- data


RECENT = 200
"""Conversations with a message in the last day, the same number at every table size:
the first half active now, the second half inactive (but 1 in 10 closed: ended)."""


def conversation_times(rng: random.Random, n: int) -> tuple[datetime, datetime, datetime | None]:
    """Conversation ``n``: started within the past year and long ended, unless recent."""
    if n < RECENT // 2:
        last = NOW - timedelta(minutes=rng.uniform(0, 29))
    elif n < RECENT:
        last = NOW - timedelta(minutes=rng.uniform(31, 23 * 60))
    else:
        last = NOW - timedelta(days=rng.uniform(1.1, 365))
    started = last - timedelta(minutes=rng.uniform(0, 120))
    closed = last + timedelta(minutes=1)  # 1 in 10 closed through the API, a minute after
    return started, last, closed if n % 10 == 5 and closed <= NOW else None


def fill(engine: Engine, tenant: str, line: str, conversations: int, seed: int) -> None:
    rng = random.Random(seed)
    contacts = conversations // 2
    with engine.begin() as connection:
        connection.execute(
            insert(t.tenants).values(id=tenant, name=tenant, settings={}, created_at=NOW)
        )
        connection.execute(
            insert(t.lines).values(
                phone_number_id=line,
                tenant_id=tenant,
                provider="meta",
                app_secret="s",
                verify_token=f"v-{tenant}",
                timezone="UTC",
                created_at=NOW,
            )
        )
    for start in range(0, contacts, BATCH):
        rows = _contact_rows(rng, tenant, line, range(start, min(start + BATCH, contacts)))
        with engine.begin() as connection:
            for table, values in rows.items():
                connection.execute(insert(table), values)


def _contact_rows(
    rng: random.Random, tenant: str, line: str, numbers: range
) -> dict[Any, list[dict[str, Any]]]:
    contacts, identifiers, threads, conversations = [], [], [], []
    for n in numbers:
        contact, thread = f"ct_{tenant}_{n}", f"th_{tenant}_{n}"
        contacts.append(
            {
                "id": contact,
                "tenant_id": tenant,
                "name": f"Person {n}",
                "external_ref": f"customer_{n}" if n % 2 == 0 else None,
                "created_at": NOW - timedelta(days=400),
            }
        )
        identifiers.append(
            {
                "tenant_id": tenant,
                "kind": "wa_id",
                "value": f"2782{n:07d}",
                "contact_id": contact,
                "observed_at": NOW - timedelta(days=400),
            }
        )
        if n % 2 == 0:
            identifiers.append(
                {
                    "tenant_id": tenant,
                    "kind": "external_ref",
                    "value": f"customer_{n}",
                    "contact_id": contact,
                    "observed_at": NOW - timedelta(days=400),
                }
            )
        latest = None
        for k in range(2):
            started, last, closed = conversation_times(rng, 2 * n + k)
            conversation = f"conv_{tenant}_{n}_{k}"
            latest = conversation if latest is None or k == 1 else latest
            conversations.append(
                {
                    "id": conversation,
                    "tenant_id": tenant,
                    "thread_id": thread,
                    "line": line,
                    "contact_id": contact,
                    "started_at": started,
                    "last_message_at": last,
                    "closed_at": closed,
                    "closed_reason": "manual_close" if closed else None,
                    "initiated_by": "user",
                    "origin": "user_initiated",
                    "category": None,
                    "messages_count": 3,
                    "last_inbound_at": started,
                    "last_outbound_at": last,
                }
            )
        threads.append(
            {
                "id": thread,
                "tenant_id": tenant,
                "line": line,
                "contact_id": contact,
                "version": 4,
                "state": {"conversation_id": latest},
                "last_inbound_at": NOW - timedelta(hours=2),
                "window_ends_at": NOW + timedelta(hours=22),
                "updated_at": NOW,
            }
        )
    return {
        t.contacts: contacts,
        t.contact_identifiers: identifiers,
        t.threads: threads,
        t.conversations: conversations,
    }


# --------------------------------------------------------------------------- reads


def reads(engine: Engine, size: int) -> dict[str, Callable[[], object]]:
    """The API's reads, called as the routes call them."""

    def listing(status: ConversationStatus | None = None, **extra: Any) -> Callable[[], object]:
        def read() -> object:
            window = status_window(status, NOW, DEFAULT_POLICY) if status else None
            where = ConversationFilter(status=window, **extra)
            with SqlQueryStore(engine) as store:
                return list_conversations(store, TENANT, NOW, where, 1, 50)

        return read

    def session(identifier: Identifier) -> Callable[[], object]:
        def read() -> object:
            with SqlSessionReader(engine) as reader:
                return session_status(reader, TENANT, LINE, identifier, NOW)

        return read

    middle = size // 4 - 1  # a contact halfway through the table
    with SqlQueryStore(engine) as store:
        first_page = list_conversations(store, TENANT, NOW, ConversationFilter(), 1, 50)
    cursor = first_page.next_cursor
    return {
        "conversations?status=active": listing(ConversationStatus.ACTIVE),
        "conversations?status=inactive": listing(ConversationStatus.INACTIVE),
        "conversations?status=ended": listing(ConversationStatus.ENDED),
        "conversations (no filter)": listing(),
        "conversations?cursor=… (page 2)": listing(after=cursor),
        "conversations?customer_id=…": listing(external_ref=f"customer_{2 * (middle // 2)}"),
        "conversations?contact_phone=…": listing(contact_phone=f"2782{middle:07d}"),
        "session-status?contact_phone=…": session(
            Identifier(IdentifierKind.WA_ID, f"2782{middle:07d}")
        ),
        "session-status?customer_id=…": session(
            Identifier(IdentifierKind.EXTERNAL_REF, f"customer_{2 * (middle // 2)}")
        ),
    }


# --------------------------------------------------------------------------- plans and times


def timed(read: Callable[[], object], repeat: int) -> float:
    read()  # warm the caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def analyze(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


@dataclass
class Measured:
    times: dict[str, dict[int, float]] = field(default_factory=dict)
    work: dict[str, dict[int, int]] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)


class SqliteSteps:
    """Counts SQLite's virtual machine instructions (in hundreds): the work a read does,
    the same on a busy machine as on an idle one."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "connect", self._install)

    def _install(self, dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.set_progress_handler(self._tick, 100)

    def _tick(self) -> int:
        self.count += 1
        return 0  # go on


def work(engine: Engine, read: Callable[[], object], steps: SqliteSteps | None) -> int:
    """SQLite: hundreds of VM instructions; PostgreSQL: buffer pages the plans touched."""
    if steps is not None:
        steps.count = 0
        read()
        return steps.count
    with capturing(engine) as captured:
        read()
    return sum(
        _root_buffers(explain(engine, statement, parameters, analyze=True))
        for statement, parameters in captured.statements
    )


def _root_buffers(plan: list[str]) -> int:
    """Pages the whole statement touched: the top node's ``Buffers`` line counts its children."""
    for line in plan:
        if line.startswith("Planning"):
            break
        if line.startswith("  Buffers:"):
            return sum(int(number) for number in re.findall(r"=(\d+)", line))
    return 0


def measure(make_url: Callable[[int], str], sizes: list[int], repeat: int, out: Measured) -> None:
    for size in sizes:
        engine = make_engine(make_url(size))
        steps = SqliteSteps(engine) if engine.dialect.name == "sqlite" else None
        try:
            upgrade(engine)
            fill(engine, TENANT, LINE, size, seed=1)
            fill(engine, OTHER, OTHER_LINE, size // 10, seed=2)
            analyze(engine)
            for name, read in reads(engine, size).items():
                out.times.setdefault(name, {})[size] = timed(read, repeat)
                out.work.setdefault(name, {})[size] = work(engine, read, steps)
                if size == max(sizes):
                    out.plans[name] = plans(engine, read)
            print(f"  {engine.dialect.name} {size:,} conversations done", file=sys.stderr)
        finally:
            engine.dispose()


def plans(engine: Engine, read: Callable[[], object]) -> list[str]:
    with capturing(engine) as captured:
        read()
    return [
        line
        for statement, parameters in captured.statements
        for line in [
            statement.split("\n")[0][:120] + " …",
            *(_short(line) for line in explain(engine, statement, parameters, analyze=True)),
            "",
        ]
    ]


def _short(line: str, width: int = 200) -> str:
    """A plan line cut at ``width`` characters (lists of ids run long)."""
    return line if len(line) <= width else line[:width] + " …"


def report(name: str, sizes: list[int], measured: Measured, unit: str) -> str:
    header = [f"{s:,}: ms" for s in sizes] + [f"{s:,}: {unit}" for s in sizes]
    lines = [f"## {name}", "", "| read | " + " | ".join(header) + " |"]
    lines.append("|---|" + "---:|" * len(header))
    for read, by_size in measured.times.items():
        cells = [f"{by_size[s]:.2f}" for s in sizes]
        cells += [f"{measured.work[read][s]:,}" for s in sizes]
        lines.append(f"| {read} | " + " | ".join(cells) + " |")
    lines += ["", f"### Plans at {max(sizes):,} conversations", ""]
    for read, plan in measured.plans.items():
        lines += [f"#### {read}", "", "```", *plan, "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args()
    sections = []
    with tempfile.TemporaryDirectory() as directory:
        sqlite = Measured()
        measure(
            lambda size: f"sqlite:///{directory}/plans_{size}.db", args.sizes, args.repeat, sqlite
        )
        sections.append(report("SQLite", args.sizes, sqlite, "VM steps (×100)"))
    if args.postgres:
        sections.append(postgres_section(args.sizes, args.repeat))
    text = f"# The query API's reads: plans and times\n\n{NOTE}\n\n" + "\n\n".join(sections) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "query_plans.md").write_text(text)
    print(text)


def postgres_section(sizes: list[int], repeat: int) -> str:
    import psycopg
    from tests.support.postgres import running_postgres

    measured = Measured()
    with running_postgres() as server:

        def url(size: int) -> str:
            with psycopg.connect(server.conninfo(), autocommit=True) as connection:
                connection.execute(f"CREATE DATABASE plans_{size}")
            return server.url(f"plans_{size}")

        measure(url, sizes, repeat, measured)
    return report("PostgreSQL", sizes, measured, "buffers")


if __name__ == "__main__":
    main()
