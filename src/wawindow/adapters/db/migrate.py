"""Bring a database to the schema of this release with Alembic, configured from code.

``upgrade(engine)`` is safe to call on every start, by several processes at once:
an up-to-date database is left alone, and concurrent upgrades take turns — on
PostgreSQL behind a transaction-scoped advisory lock, on SQLite behind the write
lock that ``BEGIN IMMEDIATE`` takes (see ``engine.py``; another process waits up
to the busy timeout, 10 s), and within one process behind a thread lock (Alembic
keeps its running context in module globals). Each upgrade runs in one
transaction, so a failed migration leaves the database as it was (DDL is
transactional on both databases).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS: Final = Path(__file__).parent / "migrations"
# Any constant shared by all wawindow processes; "wawi" in ASCII.
_ADVISORY_LOCK_KEY: Final = 0x77617769
# Alembic keeps the running migration's context in module globals: one at a time per process.
_IN_PROCESS: Final = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for wawindow's migrations (and ``url``, when given).

    Useful for Alembic commands run by hand, e.g. ``command.revision(alembic_config(
    "sqlite:///scratch.db"), "message", autogenerate=True)``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine) -> None:
    """Migrate the database behind ``engine`` to the newest revision (idempotent)."""
    config = alembic_config()
    with _IN_PROCESS, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` when it was never migrated."""
    with engine.connect() as connection:
        connection = connection.execution_options(sqlite_begin="DEFERRED")
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision this release knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head
