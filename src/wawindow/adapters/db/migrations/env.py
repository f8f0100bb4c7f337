"""Alembic environment for wawindow, configured from code (no alembic.ini).

``wawindow.adapters.db.migrate`` runs it with an open connection in
``config.attributes["connection"]``, inside a transaction it owns. To write a new
revision, a developer can instead give a database URL (an empty database at head)::

    from alembic import command
    from wawindow.adapters.db.migrate import alembic_config

    command.revision(alembic_config("sqlite:///scratch.db"), "what changes", autogenerate=True)

SQLite gets ``render_as_batch=True``: its ALTER TABLE is so limited that Alembic
changes a table by copying it ("batch mode").
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.schema import metadata


def _render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes a decorated type (``schema.UtcDateTime``) as the type it stores
    (``sa.DateTime(timezone=True)``), so revisions never import the live schema module."""
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl!r}"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no database: pass a connection in config.attributes['connection'] "
            "or set sqlalchemy.url"
        )
    if context.is_offline_mode():
        _run_offline(url)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as own_connection:
            _configure(own_connection)
    finally:
        engine.dispose()


_run()
