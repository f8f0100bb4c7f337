"""``adapters.db.prepared``: statements compiled once and run on the driver's connection
give what ``Connection.execute`` gives, on every database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, bindparam, exc, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.prepared import Prepared, ReadConnection, Statements

NOW = datetime(2026, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)
th = t.threads.c

THREADS = (
    select(th.id, th.line, th.version, th.state, th.last_inbound_at, th.window_ends_at)
    .where(th.tenant_id == bindparam("tenant_id"))
    .order_by(th.id)
    .limit(2)
)
STATEMENTS = Statements(
    threads=THREADS,
    version=select(th.version).where(th.id == bindparam("thread_id")),
    broken=select(t.threads.c.id).where(th.id == bindparam("thread_id")),
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            t.tenants.insert().values(id="tn", name="t", settings={}, created_at=NOW)
        )
        connection.execute(
            t.lines.insert().values(
                phone_number_id="L1",
                tenant_id="tn",
                app_secret="s",
                verify_token="v",
                created_at=NOW,
            )
        )
        connection.execute(t.contacts.insert().values(id="ct", tenant_id="tn", created_at=NOW))
        for n, inbound in enumerate((NOW, None, NOW)):
            connection.execute(
                t.threads.insert().values(
                    id=f"th{n}",
                    tenant_id="tn",
                    line="L1",
                    contact_id="ct" if n == 0 else _contact(connection, n),
                    version=n,
                    state={"conversation_id": f"cv{n}", "nested": {"at": NOW.isoformat()}},
                    last_inbound_at=inbound,
                    window_ends_at=None,
                    updated_at=NOW,
                )
            )
    yield engine
    engine.dispose()


def _contact(connection: Connection, n: int) -> str:
    contact_id = f"ct{n}"
    connection.execute(t.contacts.insert().values(id=contact_id, tenant_id="tn", created_at=NOW))
    return contact_id


def test_rows_are_what_connection_execute_gives(engine: Engine) -> None:
    with engine.connect() as connection:
        expected = [tuple(row) for row in connection.execute(THREADS, {"tenant_id": "tn"})]
    with ReadConnection(engine, STATEMENTS) as read:
        rows = read.all("threads", tenant_id="tn")
        assert read.first("threads", tenant_id="nobody") is None
    assert rows == expected
    assert len(rows) == 2  # the LIMIT the statement carries applied
    assert rows[0][3]["nested"] == {"at": NOW.isoformat()}  # JSON decoded
    assert rows[0][4] == NOW  # microseconds kept
    assert rows[0][4].tzinfo is UTC
    assert rows[1][4] is None


def test_a_read_sees_one_snapshot_on_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL reads at the server's isolation level, read committed")
    with ReadConnection(engine, STATEMENTS) as read:
        assert read.first("version", thread_id="th1") == (1,)
        with engine.begin() as writer:  # a writer is not held up by the open read
            writer.execute(t.threads.update().where(th.id == "th1").values(version=7))
        assert read.first("version", thread_id="th1") == (1,)
    with ReadConnection(engine, STATEMENTS) as read:
        assert read.first("version", thread_id="th1") == (7,)


def test_driver_errors_are_sqlalchemy_errors_and_the_connection_goes_back(
    engine: Engine,
) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE threads RENAME TO threads_elsewhere")
    with pytest.raises(exc.DBAPIError) as raised, ReadConnection(engine, STATEMENTS) as read:
        read.all("broken", thread_id="th0")
    assert "threads" in str(raised.value)
    with engine.begin() as connection:  # nothing left holding a lock or a transaction
        connection.exec_driver_sql("ALTER TABLE threads_elsewhere RENAME TO threads")
    with ReadConnection(engine, STATEMENTS) as read:
        assert read.first("version", thread_id="th2") == (2,)


def test_statements_rendered_per_call_are_refused() -> None:
    expanding = select(th.id).where(th.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="plain bound parameters"):
        Prepared(expanding, make_engine("sqlite://").dialect)
