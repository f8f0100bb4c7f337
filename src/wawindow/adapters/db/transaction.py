"""One database transaction per store instance, as a context manager."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine


class Transaction:
    """Opens a connection and a transaction; leaving without ``commit()`` rolls back."""

    def __init__(self, engine: Engine) -> None:
        self._conn = engine.connect()
        self._transaction = self._conn.begin()
        self._postgres = engine.dialect.name == "postgresql"

    @classmethod
    def reading(cls, engine: Engine) -> Self:
        """A store for reads only: on SQLite a deferred transaction, not queued behind writers."""
        return cls(engine.execution_options(sqlite_begin="DEFERRED"))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()
        self._conn.close()

    def commit(self) -> None:
        self._transaction.commit()
