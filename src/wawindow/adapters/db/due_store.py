"""The due-time index and the outbox on SQL, shared by ingestion and the scheduler.

``SqlDueEvents`` is a transaction that can read and change a thread's indexed due
times, read what their events need (threads, contacts, conversations, tenant
settings) in a few queries per batch, write outbox rows once per key, and remove
emitted due times. ``SqlScheduler`` is the scheduler's storage: an unlocked
look for anything due, and transactions that take due rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, bindparam, delete, exists, func, select

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

_CONTACT_KINDS = ("wa_id", "bsuid", "username")


def lock_tenant(conn: Connection, tenant_id: str) -> None:
    """A transaction-long lock per tenant on PostgreSQL (SQLite has one writer anyway)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(tenant_id))))


class SqlDueEvents(Transaction):
    # -- a thread's due times (ingestion) ----------------------------------------------

    def due_of_thread(self, thread_id: str, until: datetime) -> list[DueRow]:
        query = (
            select(t.due_times)
            .where(d.thread_id == thread_id, d.due_at <= until)
            .order_by(d.due_at, d.type, d.subject)
        )
        if self._postgres:
            # Waits for a scheduler emitting them right now; they are gone after it.
            query = query.with_for_update()
        return [_due_row(row._mapping) for row in self._conn.execute(query)]

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
        statement = delete(t.due_times).where(
            d.thread_id == bindparam("b_thread"),
            d.type == bindparam("b_type"),
            d.subject == bindparam("b_subject"),
            d.due_at == bindparam("b_due"),
        )
        self._conn.execute(
            statement,
            [
                {
                    "b_thread": row.thread_id,
                    "b_type": row.deadline.type,
                    "b_subject": row.deadline.subject,
                    "b_due": row.deadline.due_at,
                }
                for row in rows
            ],
        )

    def add_outbox(self, event: OutboxEvent, now: datetime) -> bool:
        values = {
            "tenant_id": event.tenant_id,
            "event_key": event.key,
            "type": event.type,
            "thread_id": event.thread_id,
            "occurred_at": event.occurred_at,
            "data": dict(event.data),
            "created_at": now,
        }
        return insert_ignoring(self._conn, t.outbox, values)

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
                c.id.in_(ids)
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
            for row in self._conn.execute(select(c.id, c.name, c.external_ref).where(c.id.in_(ids)))
        }
        identifiers = self._conn.execute(
            select(i.contact_id, i.kind, i.value)
            .where(i.contact_id.in_(ids), i.kind.in_(_CONTACT_KINDS))
            .order_by(i.value)
        )
        for row in identifiers:
            found.get(row.contact_id, {}).setdefault(row.kind, row.value)
        return {contact_id: ContactCard(**values) for contact_id, values in found.items()}

    def _conversations_by_id(self, ids: set[str]) -> dict[str, Conversation]:
        if not ids:
            return {}
        rows = self._conn.execute(select(t.conversations).where(t.conversations.c.id.in_(ids)))
        return {row.id: conversation_from_row(row._mapping) for row in rows}

    def _tenant_policies(self, tenant_ids: set[str]) -> dict[str, Policy]:
        c = t.tenants.c
        rows = self._conn.execute(select(c.id, c.settings).where(c.id.in_(tenant_ids)))
        return {row.id: policy_from_settings(_mapping(row.settings)) for row in rows}


class SqlSchedulerStore(SqlDueEvents):
    """One scheduler transaction."""

    def take_due(self, now: datetime, limit: int) -> list[DueRow]:
        query = select(t.due_times).where(d.due_at <= now).order_by(d.due_at).limit(limit)
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return [_due_row(row._mapping) for row in self._conn.execute(query)]


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
