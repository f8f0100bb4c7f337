"""The scheduler: emits the timed events (DESIGN 1.9) whose due time has come.

Each ``tick(now)`` takes at most ``batch`` due times with ``due_at <= now`` from
the index, oldest first, writes each to the outbox as its event (with its
original due time as the event's time) and removes it, in one transaction
(``timed_events.emit_due``). So an event is emitted at most once, and one
overdue after downtime goes out on the first tick with the time it was due.

Several schedulers share one PostgreSQL: each takes rows the others have not
locked (``FOR UPDATE SKIP LOCKED``). On SQLite every writing transaction holds
the database's one write lock, so two schedulers take turns. Either way the
outbox's unique event key would refuse a second copy.

A tick first asks, without locking anything, whether anything is due at all:
an idle tick is one indexed look at the earliest due time, whatever the number
of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from wawindow.service.timed_events import DueEventStore, DueRow, OutboxEvent, emit_due

DEFAULT_BATCH = 500


class SchedulerStore(DueEventStore, AbstractContextManager["SchedulerStore"], Protocol):
    def take_due(self, now: datetime, limit: int) -> list[DueRow]:
        """Take up to ``limit`` due times at or before ``now`` out of the index, oldest
        first (skipping those another transaction holds)."""

    def commit(self) -> None: ...


class SchedulerStorage(Protocol):
    def any_due(self, now: datetime) -> bool:
        """Whether some due time is at or before ``now`` (a read; locks nothing)."""

    def open(self) -> SchedulerStore:
        """A new transaction."""


class SchedulerJob:
    name = "scheduler"

    def __init__(
        self,
        storage: SchedulerStorage,
        batch: int = DEFAULT_BATCH,
        on_emitted: Callable[[Sequence[OutboxEvent]], None] | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._storage = storage
        self._batch = batch
        self._on_emitted = on_emitted

    def close(self) -> None:
        """Nothing to release: each tick opens and ends its own transaction."""

    def tick(self, now: datetime) -> int:
        """Emit one batch of what is due at ``now``; how many due times it took."""
        if not self._storage.any_due(now):
            return 0
        with self._storage.open() as store:
            rows = store.take_due(now, self._batch)
            emitted = emit_due(store, rows, now)
            store.commit()
        if emitted and self._on_emitted is not None:
            self._on_emitted(emitted)
        return len(rows)
