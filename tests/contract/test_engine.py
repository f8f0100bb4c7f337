"""make_engine: SQLite in WAL mode with serialised writers; PostgreSQL through psycopg 3."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import anyio
import pytest
from sqlalchemy import Connection, Engine, exc, text
from sqlalchemy.pool import QueuePool

from wawindow.adapters.db.engine import (
    SQLITE_MMAP_BYTES,
    SQLITE_POOL_SIZE,
    database_unavailable,
    is_sqlite,
    make_engine,
)

E = TypeVar("E", bound=BaseException)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'folder' / 'wawindow.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        connection.exec_driver_sql("INSERT INTO counter (id, n) VALUES (1, 0)")
    yield engine
    engine.dispose()


def _pragma(connection: Connection, name: str) -> object:
    return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


# ------------------------------------------------------------------------------ SQLite


@pytest.mark.parametrize(("asked", "level"), [("NORMAL", 1), ("FULL", 2), ("full", 2)])
def test_sqlite_runs_in_wal_mode_at_the_synchronous_level_asked_for(
    sqlite_url: str, asked: str, level: int
) -> None:
    engine = make_engine(sqlite_url, sqlite_synchronous=asked)
    try:
        with engine.connect() as connection:
            assert _pragma(connection, "journal_mode") == "wal"
            assert _pragma(connection, "synchronous") == level
            assert _pragma(connection, "foreign_keys") == 1
            assert _pragma(connection, "busy_timeout") == 10_000
            assert _pragma(connection, "mmap_size") == SQLITE_MMAP_BYTES
    finally:
        engine.dispose()
    assert is_sqlite(engine)


def test_sqlite_hands_out_the_connection_used_last(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        first, second = engine.raw_connection(), engine.raw_connection()
        first_driver, second_driver = first.driver_connection, second.driver_connection
        first.close()
        second.close()  # returned last: its caches are the warm ones
        again = engine.raw_connection()
        assert again.driver_connection is second_driver
        assert again.driver_connection is not first_driver
        again.close()
    finally:
        engine.dispose()


def test_sqlite_refuses_an_unknown_synchronous_level(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        make_engine(sqlite_url, sqlite_synchronous="OFF")


def test_sqlite_creates_the_database_folder(sqlite_url: str, tmp_path: Path) -> None:
    make_engine(sqlite_url).dispose()  # creating the engine is enough; no connection yet

    assert (tmp_path / "nested" / "folder").is_dir()


def test_sqlite_enforces_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE child (id INTEGER REFERENCES counter (id))")

    with pytest.raises(Exception, match="FOREIGN KEY"), sqlite_engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO child (id) VALUES (42)")


def test_sqlite_ddl_is_transactional(sqlite_engine: Engine) -> None:
    def create_then_fail() -> None:
        with sqlite_engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE ghost (id INTEGER)")
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        create_then_fail()

    with sqlite_engine.connect() as connection:
        tables = connection.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
    assert "ghost" not in tables


def test_sqlite_concurrent_read_modify_writes_serialise_instead_of_failing(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    # Each thread has its own engine, like separate processes. With deferred
    # transactions, two readers upgrading to writers fail at once with "database is
    # locked" (the busy timeout cannot help); BEGIN IMMEDIATE queues them instead.
    threads, increments = 4, 25
    failures: list[BaseException] = []

    def increment_many() -> None:
        engine = make_engine(sqlite_url)
        try:
            for _ in range(increments):
                with engine.begin() as connection:
                    n = connection.exec_driver_sql("SELECT n FROM counter WHERE id = 1").scalar()
                    time.sleep(0.002)  # let the others read too: the race, made likely
                    connection.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
        except BaseException as failure:  # reported below, in the test's thread
            failures.append(failure)
        finally:
            engine.dispose()

    workers = [threading.Thread(target=increment_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    with sqlite_engine.connect() as connection:
        total = connection.exec_driver_sql("SELECT n FROM counter").scalar()
    assert total == threads * increments


def test_sqlite_a_writer_waits_for_the_one_holding_the_lock(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    holding = threading.Event()
    first_commits_at: list[float] = []

    def first_writer() -> None:
        with sqlite_engine.begin() as connection:
            connection.exec_driver_sql("UPDATE counter SET n = n + 1")
            holding.set()
            time.sleep(0.3)
            first_commits_at.append(time.monotonic())

    first = threading.Thread(target=first_writer)
    first.start()
    assert holding.wait(timeout=10)
    second = make_engine(sqlite_url)
    try:
        with second.begin() as connection:
            second_began_at = time.monotonic()
            connection.exec_driver_sql("UPDATE counter SET n = n * 10")
        first.join()
        with second.connect() as connection:
            n = connection.exec_driver_sql("SELECT n FROM counter").scalar()
    finally:
        second.dispose()

    assert second_began_at >= first_commits_at[0]
    assert n == 10  # (0 + 1) * 10: the second write saw the first


def test_sqlite_a_deferred_reader_does_not_queue_behind_a_writer(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    read = threading.Event()

    def writer() -> None:
        with sqlite_engine.begin() as connection:
            connection.exec_driver_sql("UPDATE counter SET n = 5")
            read.wait(timeout=10)

    holder = threading.Thread(target=writer)
    holder.start()
    reader = make_engine(sqlite_url)
    try:
        with reader.connect() as connection:
            connection.execution_options(sqlite_begin="DEFERRED")
            n = connection.exec_driver_sql("SELECT n FROM counter").scalar()
        read.set()
    finally:
        read.set()
        holder.join()
        reader.dispose()

    assert n == 0  # the writer's change is not committed yet


def test_sqlite_a_committed_row_survives_closing_and_reopening(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE kept (value TEXT)")
        connection.exec_driver_sql("INSERT INTO kept VALUES ('committed')")
    engine.dispose()

    reopened = make_engine(sqlite_url)
    try:
        with reopened.connect() as connection:
            assert connection.exec_driver_sql("SELECT value FROM kept").scalar() == "committed"
    finally:
        reopened.dispose()


def test_sqlite_a_committed_row_survives_the_process_being_killed(sqlite_url: str) -> None:
    # synchronous=NORMAL in WAL mode: the commit is in the WAL the OS holds; kill -9
    # before any checkpoint or close must not lose it.
    program = textwrap.dedent(
        f"""
        import os, signal
        from wawindow.adapters.db.engine import make_engine
        engine = make_engine({sqlite_url!r})
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE kept (value TEXT)")
            connection.exec_driver_sql("INSERT INTO kept VALUES ('committed')")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", program], check=False, timeout=60)
    assert killed.returncode == -9

    reopened = make_engine(sqlite_url)
    try:
        with reopened.connect() as connection:
            assert connection.exec_driver_sql("SELECT value FROM kept").scalar() == "committed"
    finally:
        reopened.dispose()


# -------------------------------------------------------------------------- PostgreSQL


def test_postgresql_urls_use_psycopg_3(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(plain)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()

    assert engine.dialect.driver == "psycopg"
    assert engine.pool._pre_ping
    assert not is_sqlite(engine)


# ------------------------------------------------------------------------------- other


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        make_engine("mysql://localhost/wawindow")


# ------------------------------------------------------------------------------ unavailable


def test_the_sqlite_pool_has_a_connection_for_every_thread_that_may_hold_one(
    sqlite_url: str,
) -> None:
    async def request_threads() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    engine = make_engine(sqlite_url)
    try:
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        # Starlette's request threads, the event loop's own reads and serve's worker thread.
        assert pool.size() >= anyio.run(request_threads) + 2
    finally:
        engine.dispose()


def _raised(call: Callable[[], object], kind: type[E]) -> E:
    with pytest.raises(kind) as raised:
        call()
    return raised.value


def test_no_free_connection_within_the_pool_timeout_is_unavailability(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, pool_timeout=0.05)
    held = [engine.raw_connection() for _ in range(SQLITE_POOL_SIZE + 10)]  # + the overflow
    try:
        error = _raised(engine.raw_connection, exc.TimeoutError)
    finally:
        for connection in held:
            connection.close()
        engine.dispose()
    assert database_unavailable(error)


def test_sqlite_still_locked_after_the_busy_timeout_is_unavailability(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    with sqlite_engine.begin() as holder:
        holder.exec_driver_sql("UPDATE counter SET n = n + 1")
        with sqlite_engine.connect() as other:
            # Set on the driver's connection: through ``other`` it would begin a
            # transaction first, which waits the whole (10 s) busy timeout.
            other.connection.driver_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
            error = _raised(
                lambda: other.exec_driver_sql("UPDATE counter SET n = 0"), exc.OperationalError
            )
    assert "locked" in str(error)
    assert database_unavailable(error)


def test_a_wrong_statement_is_not_unavailability(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        # SQLite's class for a wrong statement, too.
        error = _raised(
            lambda: connection.exec_driver_sql("SELECT * FROM no_such_table"), exc.OperationalError
        )
    assert not database_unavailable(error)
    assert not database_unavailable(ValueError("not a database error"))


def test_an_unreachable_postgresql_is_unavailability() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:9/none")  # nothing listens on port 9
    try:
        error = _raised(engine.connect, exc.OperationalError)
    finally:
        engine.dispose()
    assert database_unavailable(error)
