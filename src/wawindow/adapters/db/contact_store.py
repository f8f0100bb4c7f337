"""Contacts and session status on SQL (the ports of ``service.contacts``).

``SqlContactStore`` is an ``SqlIngestStore`` on purpose: contacts created or
linked through the API go through the very queries ingest resolves users with
(the same identifier rows, the same per-tenant lock, the same "latest name wins"),
so a webhook naming a stored phone number finds the stored contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.query_store import conversation_from_row
from wawindow.domain.conversations import Conversation
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.service.contacts import (
    StoredContact,
    StoredTemplate,
    StoredThread,
    ThreadSnapshot,
)

MAX_MERGE_HOPS = 32
"""A merged-away id is followed through at most this many merges (a guard against cycles)."""


class SqlContactStore(SqlIngestStore):
    # -- contacts ----------------------------------------------------------------------

    def contacts_with(self, tenant_id: str, identifier: Identifier) -> list[str]:
        i, c = t.contact_identifiers.c, t.contacts.c
        rows = self._conn.execute(
            select(i.contact_id, c.merged_into)
            .join(t.contacts, c.id == i.contact_id)
            .where(i.tenant_id == tenant_id, i.kind == identifier.kind)
            .where(i.value == identifier.value)
            .order_by(c.created_at, c.id)
        ).all()
        # A merge moves identifiers to the survivor; following ``merged_into`` is a safeguard.
        found = (
            row.contact_id if row.merged_into is None else self.resolve(tenant_id, row.contact_id)
            for row in rows
        )
        return list(dict.fromkeys(contact_id for contact_id in found if contact_id is not None))

    def resolve(self, tenant_id: str, contact_id: str) -> str | None:
        c = t.contacts.c
        current, seen = contact_id, set[str]()
        while current not in seen and len(seen) < MAX_MERGE_HOPS:
            seen.add(current)
            merged_into = self._conn.execute(
                select(c.merged_into).where(c.tenant_id == tenant_id, c.id == current)
            ).first()
            if merged_into is None:
                return None
            if merged_into[0] is None:
                return current
            current = merged_into[0]
        return None

    def contact(self, tenant_id: str, contact_id: str) -> StoredContact | None:
        c = t.contacts.c
        row = self._conn.execute(
            select(t.contacts).where(c.tenant_id == tenant_id, c.id == contact_id)
        ).first()
        if row is None:
            return None
        return StoredContact(
            id=row.id,
            name=row.name,
            external_ref=row.external_ref,
            created_at=row.created_at,
            identifiers=self._identifiers(tenant_id, contact_id),
            threads=self._threads(tenant_id, contact_id),
        )

    def _identifiers(self, tenant_id: str, contact_id: str) -> tuple[Identifier, ...]:
        i = t.contact_identifiers.c
        rows = self._conn.execute(
            select(i.kind, i.value)
            .where(i.tenant_id == tenant_id, i.contact_id == contact_id)
            .order_by(i.kind, i.value)
        )
        return tuple(Identifier(row.kind, row.value) for row in rows)

    def _threads(self, tenant_id: str, contact_id: str) -> tuple[StoredThread, ...]:
        th = t.threads.c
        rows = self._conn.execute(
            select(th.line, th.last_inbound_at, th.window_ends_at)
            .where(th.tenant_id == tenant_id, th.contact_id == contact_id)
            .order_by(th.line)
        )
        return tuple(StoredThread(r.line, r.last_inbound_at, r.window_ends_at) for r in rows)

    def set_external_ref(
        self, tenant_id: str, contact_id: str, external_ref: str, at: datetime
    ) -> None:
        i = t.contact_identifiers.c
        self._conn.execute(
            update(t.contacts)
            .where(t.contacts.c.id == contact_id)
            .values(external_ref=external_ref)
        )
        self._conn.execute(
            delete(t.contact_identifiers).where(
                i.tenant_id == tenant_id,
                i.contact_id == contact_id,
                i.kind == IdentifierKind.EXTERNAL_REF.value,
                i.value != external_ref,
            )
        )
        identifier = Identifier(IdentifierKind.EXTERNAL_REF, external_ref)
        self.attach_identifiers(tenant_id, contact_id, [identifier], at)

    # -- session status -------------------------------------------------------------------

    def has_line(self, tenant_id: str, line: str) -> bool:
        ln = t.lines.c
        found = self._conn.execute(
            select(ln.phone_number_id).where(ln.phone_number_id == line, ln.tenant_id == tenant_id)
        )
        return found.first() is not None

    def thread_snapshot(self, tenant_id: str, line: str, contact_id: str) -> ThreadSnapshot | None:
        th = t.threads.c
        row = self._conn.execute(
            select(th.id, th.last_inbound_at, th.window_ends_at, th.state).where(
                th.tenant_id == tenant_id, th.line == line, th.contact_id == contact_id
            )
        ).first()
        if row is None:
            return None
        state: Mapping[str, Any] = row.state or {}
        fep = state.get("free_entry_point") or {}
        conversation_id = state.get("conversation_id")
        return ThreadSnapshot(
            last_inbound_at=row.last_inbound_at,
            window_ends_at=row.window_ends_at,
            fep_opened_at=_instant(fep.get("opened_at")),
            fep_expires_at=_instant(fep.get("expires_at")),
            conversation=self._latest_conversation(tenant_id, row.id, conversation_id),
        )

    def _latest_conversation(
        self, tenant_id: str, thread_id: str, conversation_id: str | None
    ) -> Conversation | None:
        """The thread's conversation named by its state, else its latest one."""
        c = t.conversations.c
        query = select(t.conversations).where(c.tenant_id == tenant_id, c.thread_id == thread_id)
        row = None
        if conversation_id:
            row = self._conn.execute(query.where(c.id == conversation_id)).first()
        if row is None:
            latest = query.order_by(c.started_at.desc(), c.id.desc()).limit(1)
            row = self._conn.execute(latest).first()
        return None if row is None else conversation_from_row(row._mapping)

    def templates(self, tenant_id: str, line: str) -> list[StoredTemplate]:
        tp = t.templates.c
        rows = self._conn.execute(
            select(t.templates)
            .where(tp.tenant_id == tenant_id, tp.line == line)
            .order_by(tp.name, tp.language)
        )
        return [
            StoredTemplate(
                template_id=r.template_id,
                name=r.name,
                language=r.language,
                category=r.category,
                status=r.status,
                body=r.body,
                param_count=r.param_count,
            )
            for r in rows
        ]


def _instant(value: object) -> datetime | None:
    """A time from the thread's state JSON (ISO 8601 text, as ``codec.to_json`` writes it)."""
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, str) and value:
        found = datetime.fromisoformat(value)
    else:
        return None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
