"""Contacts on SQL (the ports of ``service.contacts``; the session status reads are in
``session_reader``).

``SqlContactStore`` is an ``SqlIngestStore`` on purpose: contacts created or
linked through the API go through the very queries ingest resolves users with
(the same identifier rows, the same per-tenant lock, the same "latest name wins"),
so a webhook naming a stored phone number finds the stored contact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.service.contacts import StoredContact, StoredThread

MAX_MERGE_HOPS = 32
"""A merged-away id is followed through at most this many merges (a guard against cycles)."""

_i, _c = t.contact_identifiers.c, t.contacts.c
# Built once, and shared with ``session_reader``: building a statement costs more than
# running it.
CONTACTS_WITH = (
    select(_i.contact_id, _c.merged_into)
    .join(t.contacts, _c.id == _i.contact_id)
    .where(
        _i.tenant_id == bindparam("tenant_id"),
        _i.kind == bindparam("kind"),
        _i.value == bindparam("value"),
    )
    .order_by(_c.created_at, _c.id)
)
MERGED_INTO = select(_c.merged_into).where(
    _c.tenant_id == bindparam("tenant_id"), _c.id == bindparam("contact_id")
)


def follow_merges(
    merged_into: Callable[[str], Sequence[Any] | None], contact_id: str
) -> str | None:
    """The contact that ``contact_id`` was merged into, through every merge; itself when
    it was never merged; ``None`` when unknown. ``merged_into(id)`` is the contact's row
    (its ``merged_into`` first), ``None`` when there is none."""
    current, seen = contact_id, set[str]()
    while current not in seen and len(seen) < MAX_MERGE_HOPS:
        seen.add(current)
        row = merged_into(current)
        if row is None:
            return None
        if row[0] is None:
            return current
        current = row[0]
    return None


class SqlContactStore(SqlIngestStore):
    # -- contacts ----------------------------------------------------------------------

    def contacts_with(self, tenant_id: str, identifier: Identifier) -> list[str]:
        values = {"tenant_id": tenant_id, "kind": str(identifier.kind), "value": identifier.value}
        rows = self._conn.execute(CONTACTS_WITH, values).all()
        # A merge moves identifiers to the survivor; following ``merged_into`` is a safeguard.
        found = (
            row.contact_id if row.merged_into is None else self.resolve(tenant_id, row.contact_id)
            for row in rows
        )
        return list(dict.fromkeys(contact_id for contact_id in found if contact_id is not None))

    def resolve(self, tenant_id: str, contact_id: str) -> str | None:
        return follow_merges(
            lambda current: self._conn.execute(
                MERGED_INTO, {"tenant_id": tenant_id, "contact_id": current}
            ).first(),
            contact_id,
        )

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
