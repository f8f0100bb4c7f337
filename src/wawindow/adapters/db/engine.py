"""Engines for the two supported databases: SQLite (embedded default) and PostgreSQL.

SQLite
    ``sqlite:///path/to/file.db`` (the parent folder is created). Every connection
    runs in WAL mode with foreign keys on and a busy timeout of 10 s. SQLAlchemy,
    not the ``sqlite3`` module, emits ``BEGIN``: the module's own transaction
    handling is switched off (``isolation_level = None``) and each transaction
    starts with ``BEGIN IMMEDIATE`` — the recipe of SQLAlchemy's SQLite
    documentation ("Using SQLAlchemy to emit BEGIN in lieu of SQLite's transaction
    control"). So DDL is transactional, and a transaction takes the write lock
    when it begins rather than when it first writes: writers queue one at a time
    (each waiting up to the busy timeout) instead of failing with "database is
    locked" half-way through. A connection may ask for a plain deferred begin,
    for a read that should not queue behind writers, with
    ``connection.execution_options(sqlite_begin="DEFERRED")``.

    Reads go through a memory map of the file's first GiB (``PRAGMA mmap_size``):
    a page is read where the operating system's cache holds it, instead of being
    copied by a system call into the connection's own page cache (2 MiB), which a
    database larger than that cache would pay on most lookups. The pool hands out
    the connection used last (``pool_use_lifo``), the one whose caches are warm,
    and holds ``SQLITE_POOL_SIZE`` connections: one for every thread of a
    ``serve`` process that may hold one at once, so no request waits for a
    connection while another thread sits on an idle one.

PostgreSQL
    ``postgresql://…`` or ``postgres://…`` (rewritten to the psycopg 3 driver) or
    ``postgresql+psycopg://…``; connections are checked before use
    (``pool_pre_ping``), so a restarted server costs no failed request.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_MS: Final = 10_000
# Starlette runs blocking handlers on up to 40 threads; with the event loop's own reads
# and serve's worker thread, 42 connections may be in use at once. They are opened on
# demand: a CLI command that needs one opens one.
SQLITE_POOL_SIZE: Final = 48
DEFAULT_POOL_TIMEOUT: Final = 10.0
SQLITE_MMAP_BYTES: Final = 1 << 30
SQLITE_SYNCHRONOUS_LEVELS: Final = frozenset({"NORMAL", "FULL"})
SQLITE_BEGIN_MODES: Final = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})
_SQLITE_DRIVERS: Final = frozenset({"sqlite", "sqlite+pysqlite"})
_POSTGRES_DRIVERS: Final = frozenset({"postgresql", "postgres", "postgresql+psycopg"})


def make_engine(
    url: str, *, sqlite_synchronous: str = "NORMAL", pool_timeout: float = DEFAULT_POOL_TIMEOUT
) -> Engine:
    """An engine for ``url``, a ``sqlite:///…`` or ``postgresql[+psycopg]://…`` URL.

    ``pool_timeout`` is how many seconds a caller waits for a pooled connection
    before SQLAlchemy's ``TimeoutError`` (which the API answers with 503).

    ``sqlite_synchronous`` is SQLite's ``PRAGMA synchronous`` level (ignored for
    PostgreSQL). In WAL mode:

    - ``NORMAL`` (the default) is safe against process crashes: a committed
      transaction survives the process being killed (``kill -9``), because the
      commit is in the WAL file that the operating system holds. A power loss or
      an operating-system crash may roll back the last transactions committed
      before it (the database stays consistent).
    - ``FULL`` syncs the WAL to disk on every commit, so a committed transaction
      also survives a power loss, at the price of one fsync per commit.

    Raises ``ValueError`` for any other URL scheme or synchronous level.
    """
    parsed = make_url(url)
    if parsed.drivername in _SQLITE_DRIVERS:
        return _sqlite_engine(parsed, sqlite_synchronous, pool_timeout)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_pre_ping=True,
            pool_timeout=pool_timeout,
        )
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}: "
        "use sqlite:///path or postgresql://user@host/db"
    )


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot serve the call now (worth retrying
    later), rather than that the call itself is wrong.

    That is: no pooled connection came free within the pool timeout; SQLite still
    locked by a writer after the busy timeout; or PostgreSQL out of reach, shutting
    down, or giving up on the statement (an ``OperationalError``). SQLite also raises
    ``OperationalError`` for a wrong statement ("no such table"): that is a bug, not
    unavailability.
    """
    if isinstance(error, exc.TimeoutError):
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    if isinstance(error.orig, sqlite3.Error):
        # An extended result code keeps the primary one in its low byte.
        return error.orig.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return True


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite (else PostgreSQL)."""
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: URL, synchronous: str, pool_timeout: float) -> Engine:
    level = synchronous.upper()
    if level not in SQLITE_SYNCHRONOUS_LEVELS:
        raise ValueError(
            f"sqlite_synchronous must be one of {sorted(SQLITE_SYNCHRONOUS_LEVELS)}, "
            f"not {synchronous!r}"
        )
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # A file gets a queue of connections; an in-memory database has one per thread.
    queued = issubclass(SQLiteDialect_pysqlite.get_pool_class(url), QueuePool)
    pooling = {"pool_use_lifo": True, "pool_size": SQLITE_POOL_SIZE, "pool_timeout": pool_timeout}
    engine = create_engine(url, **(pooling if queued else {}))
    event.listen(engine, "connect", _sqlite_on_connect(level))
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(synchronous: str) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from emitting BEGIN/COMMIT on its own; _sqlite_on_begin
        # emits BEGIN. The PRAGMAs below then run outside any transaction, as they must.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First, so that switching to WAL already waits for a busy database.
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        finally:
            cursor.close()

    return on_connect


def _sqlite_on_begin(connection: Connection) -> None:
    mode = str(connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")).upper()
    if mode not in SQLITE_BEGIN_MODES:
        raise ValueError(f"sqlite_begin must be one of {sorted(SQLITE_BEGIN_MODES)}, not {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
