"""The due-time index and the outbox on SQL, shared by ingestion and the scheduler.

``SqlDueEvents`` is a transaction that can change a thread's indexed due times,
take those that are due out of the index, read what their events need (threads,
contacts, conversations, tenant settings) in a few queries per batch, and write
outbox rows once per key. ``SqlScheduler`` is the scheduler's storage: an
unlocked look for anything due, and transactions that take due rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    RowMapping,
    String,
    Text,
    any_,
    bindparam,
    delete,
    exists,
    func,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.query_store import conversation_from_row
from wawindow.adapters.db.transaction import Transaction
from wawindow.adapters.db.upserts import insert_ignoring
from wawindow.domain.conversations import Conversation
from wawindow.domain.deadlines import Deadline, DuePlan
from wawindow.domain.policy import Policy
from wawindow.service.ports import ThreadRef
from wawindow.service.tenant_settings import policy_from_settings
from wawindow.service.timed_events import (
    ContactCard,
    DueContext,
    DueRow,
    OutboxEvent,
    ThreadCard,
)

d = t.due_times.c
_DUE_COLUMNS: Final = (d.thread_id, d.type, d.subject, d.due_at, d.tenant_id)

_CONTACT_KINDS = ("wa_id", "bsuid", "username")


def lock_tenant(conn: Connection, tenant_id: str) -> None:
    """A transaction-long lock per tenant on PostgreSQL (SQLite has one writer anyway)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(tenant_id))))


class SqlDueEvents(Transaction):
    # -- a thread's due times (ingestion) ----------------------------------------------

    def take_due_of_thread(self, thread_id: str, until: datetime) -> list[DueRow]:
        # On PostgreSQL a scheduler emitting one of these right now holds it: the DELETE
        # waits for its commit and then finds it gone.
        statement = (
            delete(t.due_times)
            .where(d.thread_id == thread_id, d.due_at <= until)
            .returning(*_DUE_COLUMNS)
        )
        return [_due_row(row._mapping) for row in self._conn.execute(statement)]

    def plan_due(self, thread: ThreadRef, plan: DuePlan) -> None:
        if plan.replace_all:
            self._conn.execute(delete(t.due_times).where(d.thread_id == thread.id))
        self.remove_due([DueRow(thread.tenant_id, thread.id, item) for item in plan.cancel])
        self.add_due([DueRow(thread.tenant_id, thread.id, item) for item in plan.add])

    def add_due(self, rows: Sequence[DueRow]) -> None:
        for row in rows:
            insert_ignoring(self._conn, t.due_times, _due_values(row))

    # -- emitting ------------------------------------------------------------------------

    def remove_due(self, rows: Sequence[DueRow]) -> None:
        if not rows:
            return
        # One keyed delete run for each row, not ``(thread_id, …) IN (VALUES …)``:
        # SQLite answers a row-value IN list of two or more rows with a scan of the
        # whole table, which made every fact that cancels two due times linear in
        # the number of pending ones.
        keys = [
            {
                "key_thread_id": row.thread_id,
                "key_type": row.deadline.type,
                "key_subject": row.deadline.subject,
                "key_due_at": row.deadline.due_at,
            }
            for row in rows
        ]
        self._conn.execute(_DELETE_DUE, keys)

    def add_outbox(self, event: OutboxEvent, now: datetime) -> bool:
        return bool(self.add_outbox_many([event], now))

    def add_outbox_many(self, events: Sequence[OutboxEvent], now: datetime) -> set[str]:
        if not events:
            return set()
        rows = [_outbox_values(event, now) for event in events]
        if self._postgres:
            return self._add_outbox_unnest(rows)
        statement = sqlite.insert(t.outbox).on_conflict_do_nothing().returning(t.outbox.c.event_key)
        # executemany with RETURNING: SQLAlchemy batches the rows into few statements.
        return set(self._conn.execute(statement, rows).scalars())

    def _add_outbox_unnest(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """One statement with a few array parameters, however many rows: the driver
        never parses a statement with thousands of placeholders."""
        columns = {name: [row[name] for row in rows] for name in _OUTBOX_ARRAYS}
        columns["data"] = [json.dumps(row["data"], separators=(",", ":")) for row in rows]
        arrays: list[BindParameter[Any]] = [
            bindparam(name, type_=ARRAY(kind)) for name, kind in _OUTBOX_ARRAYS.items()
        ]
        statement = text(
            f"INSERT INTO outbox ({', '.join(_OUTBOX_ARRAYS)}) "
            f"SELECT {', '.join(_OUTBOX_CASTS)} FROM unnest("
            + ", ".join(f":{name}" for name in _OUTBOX_ARRAYS)
            + f") AS r({', '.join(_OUTBOX_ARRAYS)}) "
            "ON CONFLICT DO NOTHING RETURNING event_key"
        ).bindparams(*arrays)
        return set(self._conn.execute(statement, columns).scalars())

    def due_context(self, rows: Sequence[DueRow]) -> DueContext:
        threads = self._thread_cards({row.thread_id for row in rows})
        conversation_ids = {
            row.deadline.subject for row in rows if row.deadline.type.startswith("conversation.")
        }
        return DueContext(
            threads=threads,
            contacts=self._contact_cards({card.contact_id for card in threads.values()}),
            conversations=self._conversations_by_id(conversation_ids),
            policies=self._tenant_policies({row.tenant_id for row in rows}),
        )

    def _thread_cards(self, ids: set[str]) -> dict[str, ThreadCard]:
        c = t.threads.c
        rows = self._conn.execute(
            select(c.id, c.line, c.contact_id, c.last_inbound_at, c.window_ends_at).where(
                self._among(c.id, ids)
            )
        )
        return {
            row.id: ThreadCard(row.line, row.contact_id, row.last_inbound_at, row.window_ends_at)
            for row in rows
        }

    def _contact_cards(self, ids: set[str]) -> dict[str, ContactCard]:
        c, i = t.contacts.c, t.contact_identifiers.c
        found = {
            row.id: {"id": row.id, "name": row.name, "external_ref": row.external_ref}
            for row in self._conn.execute(
                select(c.id, c.name, c.external_ref).where(self._among(c.id, ids))
            )
        }
        identifiers = self._conn.execute(
            select(i.contact_id, i.kind, i.value)
            .where(self._among(i.contact_id, ids), i.kind.in_(_CONTACT_KINDS))
            .order_by(i.value)
        )
        for row in identifiers:
            found.get(row.contact_id, {}).setdefault(row.kind, row.value)
        return {contact_id: ContactCard(**values) for contact_id, values in found.items()}

    def _conversations_by_id(self, ids: set[str]) -> dict[str, Conversation]:
        if not ids:
            return {}
        rows = self._conn.execute(
            select(t.conversations).where(self._among(t.conversations.c.id, ids))
        )
        return {row.id: conversation_from_row(row._mapping) for row in rows}

    def _among(self, column: ColumnElement[str], values: set[str]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter for a batch."""
        if self._postgres:
            return column == any_(bindparam(None, sorted(values), type_=ARRAY(String)))
        return column.in_(values)

    def _tenant_policies(self, tenant_ids: set[str]) -> dict[str, Policy]:
        c = t.tenants.c
        rows = self._conn.execute(select(c.id, c.settings).where(c.id.in_(tenant_ids)))
        return {row.id: policy_from_settings(_mapping(row.settings)) for row in rows}


# The scheduler takes a batch by deleting it and reading back what it deleted: one round
# trip. The inner SELECT is the index range with a LIMIT; on PostgreSQL it skips rows
# that another transaction holds, and the DELETE finds its rows by their physical id.
TAKE_DUE_SQL: Final = {
    "postgresql": (
        "DELETE FROM due_times WHERE ctid = ANY(ARRAY("
        "SELECT ctid FROM due_times WHERE due_at <= :now ORDER BY due_at LIMIT :limit "
        "FOR UPDATE SKIP LOCKED)) RETURNING thread_id, type, subject, due_at, tenant_id"
    ),
    "sqlite": (
        "DELETE FROM due_times WHERE rowid IN ("
        "SELECT rowid FROM due_times WHERE due_at <= :now ORDER BY due_at LIMIT :limit) "
        "RETURNING thread_id, type, subject, due_at, tenant_id"
    ),
}


class SqlSchedulerStore(SqlDueEvents):
    """One scheduler transaction."""

    def take_due(self, now: datetime, limit: int) -> list[DueRow]:
        statement = (
            text(TAKE_DUE_SQL[self._conn.dialect.name])
            .bindparams(bindparam("now", type_=d.due_at.type), bindparam("limit"))
            .columns(*_DUE_COLUMNS)
        )
        rows = self._conn.execute(statement, {"now": now, "limit": limit})
        return sorted((_due_row(row._mapping) for row in rows), key=lambda r: r.deadline)


class SqlScheduler:
    """The scheduler's storage on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # A look that must not queue behind SQLite's writers (they hold the write lock).
        self._reader = engine.execution_options(sqlite_begin="DEFERRED")

    def any_due(self, now: datetime) -> bool:
        with self._reader.connect() as conn:
            return bool(conn.execute(select(exists().where(d.due_at <= now))).scalar())

    def open(self) -> SqlSchedulerStore:
        return SqlSchedulerStore(self._engine)


def _outbox_values(event: OutboxEvent, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": event.tenant_id,
        "event_key": event.key,
        "type": event.type,
        "thread_id": event.thread_id,
        "occurred_at": event.occurred_at,
        "data": dict(event.data),
        "created_at": now,
    }


# The outbox's columns as PostgreSQL arrays, and how each comes out of unnest().
_OUTBOX_ARRAYS: Final[dict[str, TypeEngine[Any]]] = {
    "tenant_id": String(),
    "event_key": String(),
    "type": String(),
    "thread_id": String(),
    "occurred_at": DateTime(timezone=True),
    "data": Text(),
    "created_at": DateTime(timezone=True),
}
_OUTBOX_CASTS: Final = tuple(name if name != "data" else "data::json" for name in _OUTBOX_ARRAYS)

_DELETE_DUE = delete(t.due_times).where(
    d.thread_id == bindparam("key_thread_id"),
    d.type == bindparam("key_type"),
    d.subject == bindparam("key_subject"),
    d.due_at == bindparam("key_due_at", type_=t.When),
)


def _due_values(row: DueRow) -> dict[str, Any]:
    return {
        "thread_id": row.thread_id,
        "type": row.deadline.type,
        "subject": row.deadline.subject,
        "due_at": row.deadline.due_at,
        "tenant_id": row.tenant_id,
    }


def _due_row(row: RowMapping) -> DueRow:
    deadline = Deadline(row["due_at"], row["type"], row["subject"])
    return DueRow(row["tenant_id"], row["thread_id"], deadline)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
