"""Which index serves each read of ``GET /v1/conversations`` and ``GET /v1/session-status``.

The reads are run as the API runs them; their SQL is captured and explained. On
SQLite the plan is the one a database without statistics gets (no ``ANALYZE``,
as in production). On PostgreSQL sequential scans are priced out
(``enable_seqscan = off``), so the plan shows whether an index *can* serve the
query's conditions; on a table this small the planner would scan it anyway.
``bench/query_plans.py`` shows the plans and times over 100,000 conversations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert

from tests.support.plans import capturing, explain
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.due_store import SqlDueEvents
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.message_store import SqlMessageStore
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.query_store import SqlQueryStore
from wawindow.adapters.db.session_reader import SqlSessionReader
from wawindow.domain.conversations import ConversationStatus
from wawindow.domain.deadlines import Deadline
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.domain.policy import DEFAULT_POLICY
from wawindow.service.contacts import session_status
from wawindow.service.queries import ConversationFilter, list_conversations, status_window
from wawindow.service.timed_events import DueRow

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TENANT, LINE = "tn_plans", "106540352242922"
STATUS_INDEX = "ix_conversations_status_window"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    _fill(engine, contacts=400)
    if engine.dialect.name == "postgresql":  # its planner needs statistics; SQLite goes without
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    yield engine
    engine.dispose()


def _fill(engine: Engine, contacts: int) -> None:
    rows: dict[Any, list[dict[str, Any]]] = {}
    for n in range(contacts):
        for table, values in _contact(n):
            rows.setdefault(table, []).append(values)
    with engine.begin() as connection:
        connection.execute(
            insert(t.tenants).values(id=TENANT, name="p", settings={}, created_at=NOW)
        )
        connection.execute(
            insert(t.lines).values(
                phone_number_id=LINE,
                tenant_id=TENANT,
                provider="meta",
                app_secret="s",
                verify_token="v",
                timezone="UTC",
                created_at=NOW,
            )
        )
        for table, values in rows.items():
            connection.execute(insert(table), values)


def _last_message(n: int) -> datetime:
    """Three conversations active, three inactive, the others ended long ago."""
    if n < 3:
        return NOW - timedelta(minutes=5 * n)
    if n < 6:
        return NOW - timedelta(hours=n)
    return NOW - timedelta(days=n)


def _contact(n: int) -> list[tuple[Any, dict[str, Any]]]:
    contact, thread, last = f"ct_{n}", f"th_{n}", _last_message(n)
    identifiers = (("wa_id", f"2782000{n:04d}"), ("external_ref", f"customer_{n}"))
    return [
        (
            t.contacts,
            {
                "id": contact,
                "tenant_id": TENANT,
                "external_ref": f"customer_{n}",
                "created_at": NOW,
            },
        ),
        *(
            (
                t.contact_identifiers,
                {
                    "tenant_id": TENANT,
                    "kind": kind,
                    "value": value,
                    "contact_id": contact,
                    "observed_at": NOW,
                },
            )
            for kind, value in identifiers
        ),
        (
            t.threads,
            {
                "id": thread,
                "tenant_id": TENANT,
                "line": LINE,
                "contact_id": contact,
                "version": 1,
                "state": {"conversation_id": f"conv_{n}"},
                "last_inbound_at": last,
                "window_ends_at": last + timedelta(days=1),
                "updated_at": NOW,
            },
        ),
        (
            t.messages,
            {
                "tenant_id": TENANT,
                "id": f"wamid.{n}",
                "thread_id": thread,
                "conversation_id": f"conv_{n}",
                "direction": "outbound",
                "at": last,
                "status": "delivered",
                "record": {"message_id": f"wamid.{n}", "direction": "outbound", "line": LINE},
                "delivered_at": last,
            },
        ),
        (
            t.conversations,
            {
                "id": f"conv_{n}",
                "tenant_id": TENANT,
                "thread_id": thread,
                "line": LINE,
                "contact_id": contact,
                "started_at": last - timedelta(minutes=10),
                "last_message_at": last,
                "closed_at": None,
                "initiated_by": "user",
                "origin": "user_initiated",
                "messages_count": 2,
            },
        ),
    ]


def _listing(**where: Any) -> Callable[[Engine], object]:
    def read(engine: Engine) -> object:
        with SqlQueryStore(engine) as store:
            return list_conversations(store, TENANT, NOW, ConversationFilter(**where), 1, 10)

    return read


def _status(status: ConversationStatus) -> Callable[[Engine], object]:
    return _listing(status=status_window(status, NOW, DEFAULT_POLICY))


def _session(kind: IdentifierKind, value: str) -> Callable[[Engine], object]:
    def read(engine: Engine) -> object:
        with SqlSessionReader(engine) as reader:
            return session_status(reader, TENANT, LINE, Identifier(kind, value), NOW)

    return read


def _plans(engine: Engine, read: Callable[[Engine], object]) -> list[str]:
    """The plan of every statement ``read`` sends, one text each."""
    with capturing(engine) as captured:
        read(engine)
    settings = "SET enable_seqscan = off" if engine.dialect.name == "postgresql" else ""
    return [
        "\n".join(explain(engine, statement, parameters, settings=settings))
        for statement, parameters in captured.statements
    ]


def _first(plans: list[str], table: str) -> str:
    return next(plan for plan in plans if f" {table} " in plan or f"on {table}" in plan)


def _no_scan_of_a_whole_table(plans: list[str]) -> None:
    for plan in plans:
        assert "Seq Scan" not in plan, plan
        assert not any(line.strip().startswith("SCAN ") for line in plan.splitlines()), plan


@pytest.mark.parametrize("status", [ConversationStatus.ACTIVE, ConversationStatus.INACTIVE])
def test_running_conversations_are_a_range_of_the_status_index(
    engine: Engine, status: ConversationStatus
) -> None:
    count, page, *_ = _plans(engine, _status(status))
    for plan in (count, page):
        assert STATUS_INDEX in plan, plan
        assert "last_message_at>" in plan.replace(" ", ""), plan
    _no_scan_of_a_whole_table([count, page])


@pytest.mark.parametrize("status", [ConversationStatus.ACTIVE, ConversationStatus.INACTIVE])
def test_running_conversations_are_sorted_from_the_index_then_only_the_page_is_read(
    engine: Engine, status: ConversationStatus
) -> None:
    _, page, *_ = _plans(engine, _status(status))
    if engine.dialect.name == "sqlite":
        # The candidates' order and ids come from the index: no row read per candidate.
        assert f"COVERING INDEX {STATUS_INDEX}" in page, page
        assert re.search(r"SEARCH conversations USING \w* ?INDEX \w+ \(id=\?\)", page), page
    else:  # on these few rows PostgreSQL may pick a bitmap scan of the same index
        assert re.search(rf"(Index (Only )?Scan using|Bitmap Index Scan on) {STATUS_INDEX}", page)
        assert "Scan using pk_conversations" in page, page


def test_the_pages_contacts_are_read_by_their_ids_not_by_the_tenant(engine: Engine) -> None:
    _, _, identifiers, contacts = _plans(engine, _status(ConversationStatus.ACTIVE))
    assert "contact_id" in identifiers, identifiers
    assert "tenant_id=?" not in identifiers, identifiers
    assert "ix_contacts_tenant_id_external_ref" not in contacts, contacts
    _no_scan_of_a_whole_table([identifiers, contacts])


def test_ended_and_unfiltered_pages_walk_the_started_at_index(engine: Engine) -> None:
    for read in (_status(ConversationStatus.ENDED), _listing()):
        _, page, *_ = _plans(engine, read)
        assert "ix_conversations_tenant_id_started_at" in page, page


def test_a_cursor_starts_the_index_at_the_last_conversation_seen(engine: Engine) -> None:
    after = (NOW - timedelta(hours=5, minutes=10), "conv_5")
    _, page, *_ = _plans(engine, _listing(after=after))
    assert "ix_conversations_tenant_id_started_at" in page, page
    assert "started_at<" in page.replace(" ", ""), page  # a range, not a filter of every row


def test_a_customer_filter_goes_through_the_contact_indexes(engine: Engine) -> None:
    contacts, count, page, *_ = _plans(engine, _listing(external_ref="customer_7"))
    # By the contact's external_ref identifier (the primary key of contact_identifiers).
    identifier_key = r"(sqlite_autoindex_contact_identifiers_1|pk_contact_identifiers)"
    assert re.search(identifier_key, contacts), contacts
    for plan in (count, page):
        assert "ix_conversations_tenant_id_contact_id" in plan, plan
    _no_scan_of_a_whole_table([contacts, count, page])


def test_the_billing_summary_reads_a_period_of_the_delivered_at_index(engine: Engine) -> None:
    def delivered(engine: Engine) -> None:
        with SqlMessageStore(engine, delivered_batch=2) as store:
            list(store.delivered(TENANT, NOW - timedelta(days=4), NOW))

    # Five deliveries in the period (``_last_message``; the one at NOW is past its end):
    # batches of 2, 2 and 1, each a range of the index, the later ones starting after
    # the last row read.
    batches = [plan for plan in _plans(engine, delivered) if re.search(r" messages\b", plan)]
    assert len(batches) == 3, batches
    for batch in batches:
        assert "ix_messages_tenant_id_delivered_at" in batch, batch
        assert "delivered_at>" in batch.replace(" ", ""), batch
    _no_scan_of_a_whole_table(batches)


@pytest.mark.parametrize(
    ("kind", "value"),
    [(IdentifierKind.WA_ID, "27820000007"), (IdentifierKind.EXTERNAL_REF, "customer_7")],
)
def test_session_status_reads_only_by_index(
    engine: Engine, kind: IdentifierKind, value: str
) -> None:
    plans = _plans(engine, _session(kind, value))
    assert len(plans) >= 2  # the contact, then the thread with its conversation
    _no_scan_of_a_whole_table(plans)
    thread = _first(plans, "threads")
    assert "ix_threads" in thread or "autoindex_threads" in thread, thread
    # The conversation the thread's state names comes in the same statement, by an index.
    joined = r"SEARCH conversations USING|Index Scan using \w+ on conversations"
    assert re.search(joined, thread), thread


def test_cancelled_due_times_are_deleted_by_their_key(engine: Engine) -> None:
    # Two or more at once: SQLite answers a row-value IN list of several rows with a
    # scan of the whole table, which made ingestion linear in the pending due times.
    rows = [
        DueRow(TENANT, f"th_{n}", Deadline(NOW + timedelta(hours=n), "window.closed", f"m{n}"))
        for n in range(3)
    ]
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with SqlDueEvents(engine) as events:
            events.remove_due(rows)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert sent
    settings = "SET enable_seqscan = off" if engine.dialect.name == "postgresql" else ""
    for statement, parameters in sent:
        # executemany: the parameters of every row; each runs the same plan.
        first = parameters[0] if isinstance(parameters, list) else parameters
        plan = "\n".join(explain(engine, statement, first, settings=settings))
        _no_scan_of_a_whole_table([plan])
        assert "due_times" in plan, plan
