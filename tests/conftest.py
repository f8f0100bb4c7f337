"""Fixtures shared by the whole suite. Add new ones under a section heading.

Databases
    ``db_url``           a fresh, empty database URL, once per backend: ids
                         ``[sqlite]`` and ``[postgresql]``. Contract tests take
                         this, so they run against every backend.
    ``pg_url``           a fresh, empty PostgreSQL database, dropped afterwards.
    ``postgres_server``  the throwaway PostgreSQL server of the session
                         (``tests/support/postgres.py``), started on first use.

    PostgreSQL tests are skipped when the server binaries are missing, unless
    ``WAWINDOW_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns that into an error.
    The URLs are plain strings: build engines with
    ``wawindow.adapters.db.engine.make_engine`` and dispose of them in the test.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.postgres import PostgresServer, PostgresUnavailable, running_postgres

# --------------------------------------------------------------------------- databases

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; started only if a test asks for it."""
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as missing:
        if os.environ.get("WAWINDOW_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"WAWINDOW_REQUIRE_POSTGRES=1 but {missing}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {missing}")


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new database ``wawindow_test_<n>`` on the session's server, dropped after the test."""
    name = f"wawindow_test_{next(_database_numbers)}"
    _admin(postgres_server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres_server.url(name)
    # FORCE: a test that leaked a connection must not make the next ones fail.
    _admin(postgres_server, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend in turn (SQLite file, PostgreSQL database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wawindow.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def _admin(server: PostgresServer, statement: sql.Composed) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute(statement)
