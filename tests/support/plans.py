"""The SQL a piece of code sends, and the database's plan for each statement.

``capturing(engine)`` records the SELECT statements sent through ``engine``
(with their parameters) while the block runs, through SQLAlchemy's connections
and through ``prepared.ReadConnection``; ``explain(engine, statement,
parameters)`` gives the plan's lines: ``EXPLAIN QUERY PLAN`` on SQLite (indented
by depth), ``EXPLAIN`` on PostgreSQL (``analyze=True`` runs it too, with times
and buffers). For tests that pin which index serves a query, and for
``bench/query_plans.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

from sqlalchemy import Engine, event

from wawindow.adapters.db.prepared import Prepared, ReadConnection


@dataclass
class Captured:
    statements: list[tuple[str, Any]] = field(default_factory=list)


@contextmanager
def capturing(engine: Engine) -> Iterator[Captured]:
    captured = Captured()

    def keep(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.statements.append((statement, parameters))

    execute = ReadConnection.execute

    def keep_prepared(self: ReadConnection, prepared: Prepared, parameters: Any) -> list[Any]:
        captured.statements.append((prepared.sql, parameters))
        return execute(self, prepared, parameters)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with patch.object(ReadConnection, "execute", keep_prepared):
            yield captured
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def explain(
    engine: Engine, statement: str, parameters: Any, *, analyze: bool = False, settings: str = ""
) -> list[str]:
    """The plan of one captured statement; ``settings`` are run first (PostgreSQL ``SET``s)."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if analyze else "EXPLAIN (COSTS OFF) "
    else:
        prefix = "EXPLAIN QUERY PLAN "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if settings:
            cursor.execute(settings)
        cursor.execute(prefix + statement, parameters)
        rows = cursor.fetchall()
        raw.rollback()  # the settings end with the transaction
    finally:
        raw.close()
    if postgres:
        return [row[0] for row in rows]
    parents = {row[0]: row[1] for row in rows}
    return [f"{'  ' * _depth(parents, row[1])}{row[-1]}" for row in rows]


def _depth(parents: dict[int, int], parent: int) -> int:
    depth = 0
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth
