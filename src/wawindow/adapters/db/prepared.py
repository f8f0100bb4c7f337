"""Statements compiled once and run on the driver's connection, for the hottest reads.

SQLAlchemy's ``Connection.execute`` costs about 15-20 µs per statement even when
the statement is built once and its compiled form comes from the cache (cache
key, execution context, events, result metadata), and a ``BEGIN``/``COMMIT``
through the engine another 40-50 µs; the SQLite query itself takes 2-5 µs.
On a request that runs five short lookups (``GET /v1/session-status``) that
overhead is most of the request's cost, so such reads use this module instead:

- ``Prepared``: a Core ``select`` compiled once for a dialect, with the bind and
  result processors of its types (aware UTC datetimes, JSON on SQLite), so rows
  come back as ``connection.execute`` would give them;
- ``ReadConnection``: one pooled connection with one read transaction, rolled
  back when done. On SQLite a deferred ``BEGIN``: it never queues behind
  writers, and all its statements see one snapshot. On PostgreSQL the driver's
  implicit transaction, at the server's isolation level (read committed), as
  every other read of wawindow.

Driver errors are raised as SQLAlchemy's ``DBAPIError`` subclasses, the same
exceptions every other database call raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select

Row = tuple[Any, ...]
Processor = Callable[[Any], Any] | None


class Prepared:
    """A ``select`` compiled for one dialect; run it with ``ReadConnection.all`` or ``.first``."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            # Expanding IN lists and literal LIMITs are rendered per call: not preparable.
            raise ValueError("a prepared statement takes plain bound parameters only")
        self.sql = compiled.string
        self._names: Sequence[str] | None = compiled.positiontup  # None: named parameters
        # Values the statement carries itself, such as a LIMIT's.
        self._defaults = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self._binds: dict[str, Processor] = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        results = (
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        self._positions = tuple((name, self._binds.get(name)) for name in self._names or ())
        # Only the columns that have a processor are touched: most are plain values.
        self._results: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, processor) for index, processor in enumerate(results) if processor is not None
        )

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        given = {**self._defaults, **values} if self._defaults else values
        if self._names is None:
            return {
                name: value if (process := self._binds.get(name)) is None else process(value)
                for name, value in given.items()
            }
        return tuple(
            [
                given[name] if process is None else process(given[name])
                for name, process in self._positions
            ]
        )

    def row(self, raw: Sequence[Any]) -> Row:
        if not self._results:
            return tuple(raw)
        values = list(raw)
        for index, process in self._results:
            value = values[index]
            if value is not None:
                values[index] = process(value)
        return tuple(values)


class Statements:
    """A set of ``select``s, each compiled once per dialect on first use."""

    def __init__(self, **statements: Select[Any]) -> None:
        self._statements = statements
        self._compiled: dict[tuple[str, str], Prepared] = {}

    def get(self, name: str, dialect: Dialect) -> Prepared:
        key = (dialect.name, name)
        found = self._compiled.get(key)
        if found is None:
            # A race here compiles twice and keeps one: harmless.
            found = self._compiled[key] = Prepared(self._statements[name], dialect)
        return found


class ReadConnection:
    """One pooled connection, one read transaction, rolled back on exit."""

    def __init__(self, engine: Engine, statements: Statements) -> None:
        self._dialect = engine.dialect
        self._statements = statements
        self._errors: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._connection = engine.raw_connection()
        self._cursor = self._connection.cursor()
        if self._dialect.name == "sqlite":
            # The driver is in autocommit mode (see ``engine``): begin explicitly, so all
            # the statements of this read see one snapshot.
            try:
                self._cursor.execute("BEGIN DEFERRED")
            except self._errors as error:
                self._connection.close()
                raise self._error("BEGIN DEFERRED", None, error) from error

    def all(self, name: str, **values: Any) -> list[Row]:
        prepared = self._statements.get(name, self._dialect)
        return [prepared.row(raw) for raw in self.execute(prepared, prepared.parameters(values))]

    def execute(
        self, prepared: Prepared, parameters: Sequence[Any] | Mapping[str, Any]
    ) -> list[Any]:
        """The driver's rows: every statement of the connection goes through here."""
        try:
            self._cursor.execute(prepared.sql, parameters)
            return list(self._cursor.fetchall())
        except self._errors as error:
            raise self._error(prepared.sql, parameters, error) from error

    def first(self, name: str, **values: Any) -> Row | None:
        rows = self.all(name, **values)
        return rows[0] if rows else None

    def _error(self, sql: str, parameters: Any, error: Exception) -> exc.StatementError:
        return exc.DBAPIError.instance(sql, parameters, error, self._errors)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._cursor.close()
            self._connection.rollback()
        finally:
            self._connection.close()
