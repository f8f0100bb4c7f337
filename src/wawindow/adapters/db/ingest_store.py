"""The ingest store on SQL (SQLite or PostgreSQL): one transaction per instance."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, delete, or_, select, update

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.codec import (
    fact_from_json,
    fact_kind,
    fact_to_json,
    thread_fact_from_json,
    to_json,
)
from wawindow.adapters.db.due_store import SqlDueEvents, lock_tenant
from wawindow.adapters.db.template_store import SqlTemplateRows
from wawindow.adapters.db.upserts import insert_ignoring, upsert
from wawindow.domain.conversations import Conversation
from wawindow.domain.facts import Fact, ThreadFact, natural_key
from wawindow.domain.identity import Identifier
from wawindow.domain.thread_view import MessageView
from wawindow.service.ports import LineInfo, ThreadChanges, ThreadRef


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class SqlIngestStore(SqlDueEvents):
    # -- inbox and lines -----------------------------------------------------------

    def add_inbox(self, provider: str, body: bytes, received_at: datetime) -> int | None:
        digest = hashlib.sha256(body).hexdigest()
        values = {
            "provider": provider,
            "body_sha256": digest,
            "body": body,
            "received_at": received_at,
            "facts_count": 0,
            "dropped_count": 0,
        }
        if not insert_ignoring(self._conn, t.inbox, values):
            return None
        found = self._conn.execute(select(t.inbox.c.id).where(t.inbox.c.body_sha256 == digest))
        return int(found.scalar_one())

    def set_inbox_counts(self, inbox_id: int, facts: int, dropped: int) -> None:
        statement = update(t.inbox).where(t.inbox.c.id == inbox_id)
        self._conn.execute(statement.values(facts_count=facts, dropped_count=dropped))

    def line(self, phone_number_id: str) -> LineInfo | None:
        row = self._conn.execute(
            select(t.lines).where(t.lines.c.phone_number_id == phone_number_id)
        ).first()
        return None if row is None else _line_info(row._mapping)

    def lines_of_account(self, account_id: str) -> list[LineInfo]:
        rows = self._conn.execute(select(t.lines).where(t.lines.c.account_id == account_id))
        return [_line_info(row._mapping) for row in rows]

    def learn_account(self, phone_number_id: str, account_id: str) -> None:
        self._conn.execute(
            update(t.lines)
            .where(t.lines.c.phone_number_id == phone_number_id, t.lines.c.account_id.is_(None))
            .values(account_id=account_id)
        )

    # -- contacts --------------------------------------------------------------------

    def contacts_of(
        self, tenant_id: str, identifiers: Iterable[Identifier]
    ) -> dict[Identifier, str]:
        ids = list(identifiers)
        if not ids:
            return {}
        c = t.contact_identifiers.c
        wanted = or_(*(and_(c.kind == i.kind, c.value == i.value) for i in ids))
        rows = self._conn.execute(
            select(c.kind, c.value, c.contact_id).where(c.tenant_id == tenant_id, wanted)
        )
        return {Identifier(r.kind, r.value): r.contact_id for r in rows}

    def contact_ages(self, tenant_id: str, contact_ids: Iterable[str]) -> dict[str, int]:
        wanted = list(contact_ids)
        if not wanted:
            # An empty IN list makes SQLite walk every contact of the tenant; a user
            # writing for the first time has none to rank.
            return {}
        c = t.contacts.c
        rows = self._conn.execute(
            select(c.id, c.created_at).where(c.tenant_id == tenant_id, c.id.in_(wanted))
        ).all()
        ordered = sorted(rows, key=lambda r: (r.created_at, r.id))
        return {row.id: rank for rank, row in enumerate(ordered)}

    def lock_tenant(self, tenant_id: str) -> None:
        """Contacts of one tenant are resolved one transaction at a time (PostgreSQL;
        SQLite has one writer anyway), so two webhooks never create one user twice."""
        lock_tenant(self._conn, tenant_id)

    def tenant_settings(self, tenant_id: str) -> Mapping[str, Any]:
        c = t.tenants.c
        found = self._conn.execute(select(c.settings).where(c.id == tenant_id)).scalar()
        return found if isinstance(found, Mapping) else {}

    def new_contact(self, tenant_id: str, name: str | None, at: datetime) -> str:
        contact_id = new_id("ct")
        self._conn.execute(
            t.contacts.insert().values(
                id=contact_id,
                tenant_id=tenant_id,
                name=name,
                name_at=at if name else None,
                created_at=at,
            )
        )
        return contact_id

    def observe_name(self, contact_id: str, name: str, at: datetime) -> None:
        """The profile name of the latest fact wins, whatever the arrival order."""
        c = t.contacts.c
        self._conn.execute(
            update(t.contacts)
            .where(c.id == contact_id, or_(c.name_at.is_(None), c.name_at <= at))
            .values(name=name, name_at=at)
        )

    def attach_identifiers(
        self, tenant_id: str, contact_id: str, identifiers: Iterable[Identifier], at: datetime
    ) -> None:
        for ident in identifiers:
            values = {
                "tenant_id": tenant_id,
                "kind": str(ident.kind),
                "value": ident.value,
                "contact_id": contact_id,
                "observed_at": at,
            }
            insert_ignoring(self._conn, t.contact_identifiers, values)

    def merge_contacts(self, tenant_id: str, survivor: str, absorbed: Sequence[str]) -> list[str]:
        """One transaction (this one): identifiers, threads, facts, messages, conversations."""
        c = t.contact_identifiers.c
        self._conn.execute(
            update(t.contact_identifiers)
            .where(c.tenant_id == tenant_id, c.contact_id.in_(absorbed))
            .values(contact_id=survivor)
        )
        self._conn.execute(
            update(t.contacts).where(t.contacts.c.id.in_(absorbed)).values(merged_into=survivor)
        )
        self._carry_external_ref(tenant_id, survivor, absorbed)
        changed: set[str] = set()
        rows = self._conn.execute(
            select(t.threads).where(
                t.threads.c.tenant_id == tenant_id, t.threads.c.contact_id.in_(absorbed)
            )
        ).all()
        for row in rows:
            target = self.thread_for(tenant_id, row.line, survivor, row.updated_at)
            self._move_thread(row.id, target.id)
            changed.add(target.id)
        return sorted(changed)

    def _carry_external_ref(self, tenant_id: str, survivor: str, absorbed: Sequence[str]) -> None:
        """The survivor keeps its own ``external_ref``; without one it takes the oldest
        absorbed contact's, whose identifier the merge moved to it."""
        c = t.contacts.c
        rows = self._conn.execute(
            select(c.id, c.external_ref).where(
                c.tenant_id == tenant_id, c.id.in_([survivor, *absorbed])
            )
        )
        refs = {row.id: row.external_ref for row in rows}
        carried = next((refs[a] for a in absorbed if refs.get(a)), None)
        if refs.get(survivor) is None and carried is not None:
            self._conn.execute(
                update(t.contacts).where(c.id == survivor).values(external_ref=carried)
            )

    def _move_thread(self, source: str, target: str) -> None:
        for table in (t.facts, t.messages, t.conversations, t.drift):
            self._conn.execute(
                update(table).where(table.c.thread_id == source).values(thread_id=target)
            )
        self._conn.execute(delete(t.due_times).where(t.due_times.c.thread_id == source))
        self._conn.execute(delete(t.threads).where(t.threads.c.id == source))

    # -- threads and facts --------------------------------------------------------------

    def thread_for(self, tenant_id: str, line: str, contact_id: str, at: datetime) -> ThreadRef:
        values = {
            "id": new_id("th"),
            "tenant_id": tenant_id,
            "line": line,
            "contact_id": contact_id,
            "version": 0,
            "state": {},
            "updated_at": at,
        }
        insert_ignoring(self._conn, t.threads, values)
        c = t.threads.c
        query = select(t.threads).where(
            c.tenant_id == tenant_id, c.line == line, c.contact_id == contact_id
        )
        if self._postgres:
            query = query.with_for_update()  # one fold of a thread at a time
        return _thread_ref(self._conn.execute(query).one()._mapping)

    def thread_by_id(self, thread_id: str) -> ThreadRef:
        query = select(t.threads).where(t.threads.c.id == thread_id)
        if self._postgres:
            query = query.with_for_update()
        return _thread_ref(self._conn.execute(query).one()._mapping)

    def thread_of_message(self, tenant_id: str, message_id: str) -> ThreadRef | None:
        m = t.messages.c
        found = self._conn.execute(
            select(m.thread_id).where(m.tenant_id == tenant_id, m.id == message_id)
        ).scalar()
        return None if found is None else self.thread_by_id(found)

    def add_fact(
        self, tenant_id: str, fact: Fact, thread_id: str | None, inbox_id: int | None, at: datetime
    ) -> bool:
        values = {
            "tenant_id": tenant_id,
            "natural_key": "\x1f".join(natural_key(fact)),
            "kind": fact_kind(fact),
            "thread_id": thread_id,
            "at": fact.at,
            "payload": fact_to_json(fact),
            "inbox_id": inbox_id,
            "recorded_at": at,
        }
        if insert_ignoring(self._conn, t.facts, values):
            return True
        return self._replace_if_earlier(tenant_id, values)

    def _replace_if_earlier(self, tenant_id: str, values: dict[str, Any]) -> bool:
        """The same fact reported with an earlier time replaces the stored report."""
        f = t.facts.c
        key = (f.tenant_id == tenant_id) & (f.natural_key == values["natural_key"])
        stored_at = self._conn.execute(select(f.at).where(key)).scalar()
        if values["at"] is None or stored_at is None or values["at"] >= stored_at:
            return False
        changes = {k: values[k] for k in ("at", "payload", "inbox_id", "thread_id")}
        self._conn.execute(update(t.facts).where(key).values(**changes))
        return True

    def thread_facts(self, thread_id: str) -> list[ThreadFact]:
        f = t.facts.c
        rows = self._conn.execute(
            select(f.kind, f.payload).where(f.thread_id == thread_id).order_by(f.id)
        )
        return [thread_fact_from_json(row.kind, row.payload) for row in rows]

    def conversation_ids(self, thread_id: str) -> tuple[dict[str, str], dict[str, str]]:
        m, a, c = t.messages.c, t.conversation_aliases.c, t.conversations.c
        rows = self._conn.execute(
            select(m.id, m.conversation_id).where(
                m.thread_id == thread_id, m.conversation_id.is_not(None)
            )
        )
        placed = {row.id: row.conversation_id for row in rows}
        mine = select(c.id).where(c.thread_id == thread_id)
        aliases = self._conn.execute(
            select(a.absorbed_id, a.survivor_id).where(a.survivor_id.in_(mine))
        )
        return placed, {row.absorbed_id: row.survivor_id for row in aliases}

    def facts_of_tenant(self, tenant_id: str) -> list[Fact]:
        f = t.facts.c
        rows = self._conn.execute(
            select(f.kind, f.payload).where(f.tenant_id == tenant_id).order_by(f.id)
        )
        return [fact_from_json(row.kind, row.payload) for row in rows]

    # -- read models ------------------------------------------------------------------------

    def save_thread(self, changes: ThreadChanges, now: datetime) -> None:
        thread = changes.thread
        self._conn.execute(
            update(t.threads)
            .where(t.threads.c.id == thread.id)
            .values(
                version=changes.version,
                state=to_json(changes.state),
                last_inbound_at=changes.last_inbound_at,
                window_ends_at=changes.window_ends_at,
                updated_at=now,
            )
        )
        vanished = self._conversations_gone(changes) if changes.full else {}
        for conversation in changes.conversations:
            upsert(self._conn, t.conversations, _conversation_row(thread, conversation), ["id"])
        for message in changes.messages:
            upsert(self._conn, t.messages, _message_row(thread, message), ["tenant_id", "id"])
        aliases = {**changes.aliases, **vanished}
        if changes.aliases:  # absorbed by a merge: only the alias is left of them
            c = t.conversations.c
            self._conn.execute(
                delete(t.conversations).where(
                    c.thread_id == thread.id, c.id.in_(list(changes.aliases))
                )
            )
        for absorbed, survivor in aliases.items():
            row = {"absorbed_id": absorbed, "tenant_id": thread.tenant_id, "survivor_id": survivor}
            upsert(self._conn, t.conversation_aliases, row, ["absorbed_id"])
        self._save_drift(changes)
        self._save_events(changes, now)

    def _conversations_gone(self, changes: ThreadChanges) -> dict[str, str]:
        """Conversations a full refold no longer has: alias each to where its messages went."""
        c, m = t.conversations.c, t.messages.c
        kept = {conversation.id for conversation in changes.conversations}
        stored = self._conn.execute(
            select(m.id, m.conversation_id).where(m.thread_id == changes.thread.id)
        ).all()
        moved = {view.record.message_id: view.conversation_id for view in changes.messages}
        aliases = {
            row.conversation_id: moved[row.id]
            for row in stored
            if row.conversation_id not in kept and moved.get(row.id) is not None
        }
        gone = select(c.id).where(c.thread_id == changes.thread.id, c.id.not_in(kept))
        for conversation_id in self._conn.execute(gone).scalars().all():
            self._conn.execute(delete(t.conversations).where(c.id == conversation_id))
        return {k: v for k, v in aliases.items() if k and v}

    def _save_drift(self, changes: ThreadChanges) -> None:
        thread = changes.thread
        for item in changes.drift:
            row = {
                "tenant_id": thread.tenant_id,
                "message_id": item.message_id,
                "kind": item.kind.value,
                "thread_id": thread.id,
                "at": item.at,
                "computed": item.computed,
                "provider": item.provider,
                "detail": item.detail,
            }
            upsert(self._conn, t.drift, row, ["tenant_id", "message_id", "kind"])

    def _save_events(self, changes: ThreadChanges, now: datetime) -> None:
        thread = changes.thread
        for item in changes.events:
            values = {
                "tenant_id": thread.tenant_id,
                "event_key": item.key,
                "type": item.type,
                "thread_id": thread.id,
                "occurred_at": item.at,
                "data": {
                    "subject": item.subject,
                    "phone_number_id": thread.line,
                    "contact_id": thread.contact_id,
                    **dict(item.data),
                },
                "created_at": now,
            }
            insert_ignoring(self._conn, t.outbox, values)

    # -- template registry ---------------------------------------------------------------

    def template_rows(self) -> SqlTemplateRows:
        """The template registry's rows, in this transaction."""
        return SqlTemplateRows(self._conn)


def _line_info(row: RowMapping) -> LineInfo:
    return LineInfo(
        phone_number_id=row["phone_number_id"],
        tenant_id=row["tenant_id"],
        app_secret=row["app_secret"],
        verify_token=row["verify_token"],
        timezone=row["timezone"],
        account_id=row["account_id"],
    )


def _thread_ref(row: RowMapping) -> ThreadRef:
    return ThreadRef(row["id"], row["tenant_id"], row["line"], row["contact_id"], row["version"])


def _conversation_row(thread: ThreadRef, conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "tenant_id": thread.tenant_id,
        "thread_id": thread.id,
        "line": thread.line,
        "contact_id": thread.contact_id,
        "started_at": conversation.started_at,
        "last_message_at": conversation.last_message_at,
        "closed_at": conversation.closed_at,
        "closed_reason": conversation.closed_reason.value if conversation.closed_reason else None,
        "initiated_by": conversation.initiated_by,
        "origin": conversation.origin.value,
        "category": conversation.category,
        "messages_count": conversation.messages_count,
        "last_inbound_at": conversation.last_inbound_at,
        "last_outbound_at": conversation.last_outbound_at,
    }


def _message_row(thread: ThreadRef, view: MessageView) -> dict[str, Any]:
    record = view.record
    return {
        "tenant_id": thread.tenant_id,
        "id": record.message_id,
        "thread_id": thread.id,
        "conversation_id": view.conversation_id,
        "direction": record.direction.value,
        "at": record.at,
        "type": record.type,
        "status": record.status,
        "record": to_json(record),
        "billing": None if view.billing is None else to_json(view.billing),
        "delivered_at": record.delivered_at,
        "free_tier_candidate": view.free_tier_candidate,
    }
