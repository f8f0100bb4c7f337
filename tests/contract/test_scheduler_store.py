"""The scheduler on SQL, through the real ingest path, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, text

from tests.support.outbox import (
    LINE,
    START,
    drain,
    due_times,
    ingest,
    new_tenant,
    outbox,
    tick,
    timed,
)
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.due_store import TAKE_DUE_SQL, SqlScheduler, SqlSchedulerStore
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import upgrade
from wawindow.domain.facts import InboundMessage, OutboundMessage, Referral
from wawindow.domain.identity import Identity
from wawindow.service.scheduler import SchedulerJob
from wawindow.service.timed_events import emit_due

T = START
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(hours=24)


def user(n: int = 0) -> Identity:
    return Identity.of(wa_id=f"1650555{n:04d}")


def inbound(message_id: str, at: datetime, n: int = 0, referral: bool = False) -> InboundMessage:
    ref = Referral(source_type="ad", source_id="AD1") if referral else None
    return InboundMessage(LINE, message_id, at, user(n), "text", ref)


def reply(message_id: str, at: datetime, n: int = 0) -> OutboundMessage:
    return OutboundMessage(LINE, message_id, at, user(n), "text")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def tenant(engine: Engine) -> str:
    return new_tenant(engine)


def test_a_due_time_is_emitted_once_at_its_time(engine: Engine, tenant: str) -> None:
    ingest(engine, inbound("in1", T), at=T)

    assert tick(engine, T + 30 * MINUTE - timedelta(seconds=1)) == 0
    assert tick(engine, T + 30 * MINUTE) == 1
    assert tick(engine, T + 30 * MINUTE) == 0

    (event,) = timed(engine)
    assert (event.type, event.occurred_at) == ("conversation.inactive", T + 30 * MINUTE)
    assert event.data["conversation"]["status"] == "inactive"
    assert event.data["phone_number_id"] == LINE
    assert event.data["contact"]["wa_id"] == "16505550000"
    assert ("conversation.inactive", T + 30 * MINUTE) not in due_times(engine)


def test_a_new_inbound_replaces_the_window_close_and_the_old_one_never_goes_out(
    engine: Engine, tenant: str
) -> None:
    later = T + 10 * MINUTE
    ingest(engine, inbound("in1", T), at=T)
    ingest(engine, inbound("in2", later), at=later)

    for now in (T + DAY, later + DAY, T + 3 * DAY):
        drain(engine, now)

    closed = [e for e in timed(engine) if e.type == "window.closed"]
    assert [e.occurred_at for e in closed] == [later + DAY]
    assert closed[0].data["window"]["last_inbound_at"] == "2026-03-10T10:10:00Z"
    inactive = [e.occurred_at for e in timed(engine) if e.type == "conversation.inactive"]
    assert inactive == [later + 30 * MINUTE]
    assert due_times(engine) == []


def test_after_downtime_overdue_events_go_out_with_their_original_times_in_order(
    engine: Engine, tenant: str
) -> None:
    ingest(engine, inbound("in1", T, referral=True), at=T)
    ingest(engine, reply("out1", T + HOUR), at=T + HOUR)

    drain(engine, T + 5 * DAY)  # the first tick after five days down

    events = timed(engine)
    assert [(e.type, e.occurred_at) for e in events] == [
        # the reply at 11:00 proved this one past: ingestion emitted it
        ("conversation.inactive", T + 30 * MINUTE),
        # and the scheduler, five days late, the rest
        ("conversation.inactive", T + HOUR + 30 * MINUTE),
        ("window.expiring", T + 23 * HOUR),
        ("window.closed", T + DAY),
        ("conversation.ended", T + HOUR + DAY),
        ("fep.closed", T + HOUR + 72 * HOUR),
    ]
    fep = next(e for e in events if e.type == "fep.closed")
    assert fep.data["free_entry_point"]["opened_at"] == "2026-03-10T11:00:00Z"


def test_an_unanswered_lead_warns_then_goes_unanswered(engine: Engine, tenant: str) -> None:
    ingest(engine, inbound("in1", T, referral=True), at=T)
    drain(engine, T + 2 * DAY)
    leads = [(e.type, e.occurred_at) for e in timed(engine) if e.type.startswith("lead.")]
    assert leads == [("lead.unanswered_soon", T + 22 * HOUR), ("lead.unanswered", T + DAY)]


def test_a_fact_that_proves_due_times_past_emits_them_before_its_own_events(
    engine: Engine, tenant: str
) -> None:
    again = T + DAY + 30 * MINUTE
    ingest(engine, inbound("in1", T), at=T)
    ingest(engine, inbound("in2", again), at=again)  # no scheduler ran in between

    events = outbox(engine)
    first_of_the_new_message = min(e.id for e in events if e.occurred_at == again)
    proved = timed(engine)
    assert all(e.id < first_of_the_new_message for e in proved)
    assert [(e.type, e.occurred_at) for e in proved] == [
        ("conversation.inactive", T + 30 * MINUTE),
        ("window.expiring", T + 23 * HOUR),
        ("conversation.ended", T + DAY),
        ("window.closed", T + DAY),
    ]
    ended = next(e for e in proved if e.type == "conversation.ended")
    assert ended.data["conversation"]["ended_reason"] == "timeout"
    # the scheduler finds nothing of the first window left to emit
    drain(engine, again)
    assert len(timed(engine)) == 4


def test_batches_take_at_most_their_size_oldest_first(engine: Engine, tenant: str) -> None:
    for n in range(30):
        ingest(engine, inbound(f"in{n}", T + n * timedelta(seconds=1), n), at=T)

    taken = drain(engine, T + 30 * MINUTE + HOUR, batch=7)

    assert taken == [7, 7, 7, 7, 2]
    events = timed(engine)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert len({e.key for e in events}) == 30


def test_two_windows_opening_in_the_same_second_are_two_events(engine: Engine, tenant: str) -> None:
    ingest(engine, inbound("a", T, 1), inbound("b", T, 2), at=T)
    drain(engine, T + DAY)
    closed = [e for e in timed(engine) if e.type == "window.closed"]
    assert len(closed) == 2
    assert {e.data["contact"]["wa_id"] for e in closed} == {"16505550001", "16505550002"}


def test_schedulers_running_together_emit_each_event_once(db_url: str, tenant: str) -> None:
    # Each has its own engine, as two processes would.
    setup = make_engine(db_url)
    for n in range(60):
        ingest(setup, inbound(f"in{n}", T + n * timedelta(seconds=1), n), at=T)
    setup.dispose()
    failures: list[BaseException] = []

    def run() -> None:
        engine = make_engine(db_url)
        try:
            while tick(engine, T + 2 * DAY, batch=5):
                pass
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    check = make_engine(db_url)
    events = timed(check)
    remaining = due_times(check)
    check.dispose()
    assert failures == []
    assert Counter(e.type for e in events) == {
        "conversation.inactive": 60,
        "window.expiring": 60,
        "conversation.ended": 60,
        "window.closed": 60,
    }
    assert remaining == []


def test_a_batch_is_an_index_range_with_a_limit(engine: Engine, tenant: str) -> None:
    backend = engine.dialect.name
    explain = "EXPLAIN " if backend == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.begin() as conn:
        _seed_future_due_times(conn, tenant, 5_000)
        if backend == "postgresql":
            conn.execute(text("ANALYZE due_times"))
        rows = conn.execute(text(explain + TAKE_DUE_SQL[backend]), {"now": T, "limit": 500})
        plan = " ".join(str(row[0] if backend == "postgresql" else row[-1]) for row in rows)
    if backend == "sqlite":
        assert "INDEX ix_due_times_due_at (due_at<?)" in plan
        assert "USING INTEGER PRIMARY KEY (rowid=?)" in plan
        assert "SCAN due_times" not in plan
        assert "TEMP B-TREE" not in plan  # no sort: the index gives the order
    else:
        assert "Index Scan using ix_due_times_due_at" in plan
        assert "Tid Scan" in plan  # the DELETE finds the taken rows by their physical id
        assert "Seq Scan" not in plan
        assert "Sort" not in plan


def _seed_future_due_times(conn: Connection, tenant: str, count: int) -> None:
    conn.execute(
        t.contacts.insert(),
        [{"id": f"ct{n}", "tenant_id": tenant, "created_at": T} for n in range(count)],
    )
    conn.execute(
        t.threads.insert(),
        [
            {
                "id": f"th{n}",
                "tenant_id": tenant,
                "line": LINE,
                "contact_id": f"ct{n}",
                "version": 1,
                "state": {},
                "updated_at": T,
            }
            for n in range(count)
        ],
    )
    conn.execute(
        t.due_times.insert(),
        [
            {
                "thread_id": f"th{n}",
                "type": "window.closed",
                "subject": "s",
                "due_at": T + DAY + n * timedelta(seconds=1),
                "tenant_id": tenant,
            }
            for n in range(count)
        ],
    )


def test_postgres_schedulers_take_disjoint_rows(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    new_tenant(engine)
    for n in range(10):
        ingest(engine, inbound(f"in{n}", T, n), at=T)
    now = T + 31 * MINUTE  # ten conversation.inactive are due

    first, second = SqlSchedulerStore(engine), SqlSchedulerStore(engine)
    try:
        mine = first.take_due(now, 4)
        theirs = second.take_due(now, 10)  # the first holds its four: these are the others
        assert len(mine) == 4
        assert len(theirs) == 6
        assert not {(r.thread_id, r.deadline) for r in mine} & {
            (r.thread_id, r.deadline) for r in theirs
        }
        emit_due(first, mine, now)
        emit_due(second, theirs, now)
        first.commit()
        second.commit()
    finally:
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
    assert len(timed(engine)) == 10
    assert SchedulerJob(SqlScheduler(engine)).tick(now) == 0
    engine.dispose()
