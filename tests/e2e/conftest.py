"""End-to-end fixtures: fresh databases (several per test when needed) on either backend.

``new_database(backend)`` returns the URL of a new, empty database: a SQLite file
in the test's temporary folder, or a new database on the session's throwaway
PostgreSQL server (``postgres_server``; asked for only when a test wants
PostgreSQL, so SQLite tests run where PostgreSQL is missing), dropped afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.postgres import PostgresServer

NewDatabase = Callable[[str], str]
_numbers = itertools.count(1)


@pytest.fixture
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewDatabase]:
    created: list[tuple[PostgresServer, str]] = []

    def make(backend: str) -> str:
        number = next(_numbers)
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'wawindow-{number}.db'}"
        assert backend == "postgresql", backend
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = f"wawindow_e2e_{number}"
        _admin(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append((server, name))
        return server.url(name)

    yield make
    for server, name in created:
        _admin(server, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wawindow.db'}"


def _admin(server: PostgresServer, statement: sql.Composed) -> None:
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute(statement)
