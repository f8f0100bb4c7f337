"""Read models on SQL, for the query API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, and_, func, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.domain.conversations import Conversation, EndedReason, Origin
from wawindow.service.queries import StoredConversation


class SqlQueryStore(Transaction):
    """Reads in one transaction, so a page and its total agree."""

    def conversations(
        self, tenant_id: str, offset: int, limit: int
    ) -> tuple[list[StoredConversation], int]:
        c = t.conversations.c
        total = self._conn.execute(
            select(func.count()).select_from(t.conversations).where(c.tenant_id == tenant_id)
        ).scalar_one()
        query = (
            select(t.conversations, t.contacts.c.name, t.contacts.c.external_ref)
            .join(t.contacts, t.contacts.c.id == c.contact_id)
            .where(c.tenant_id == tenant_id)
            .order_by(c.started_at.desc(), c.id)
            .offset(offset)
            .limit(limit)
        )
        rows = self._conn.execute(query).all()
        ids = self._identifiers(tenant_id, {row.contact_id for row in rows})
        return [_stored(row._mapping, ids.get(row.contact_id, {})) for row in rows], int(total)

    def _identifiers(self, tenant_id: str, contact_ids: set[str]) -> dict[str, dict[str, str]]:
        i = t.contact_identifiers.c
        rows = self._conn.execute(
            select(i.contact_id, i.kind, i.value)
            .where(and_(i.tenant_id == tenant_id, i.contact_id.in_(contact_ids)))
            .order_by(i.value)
        )
        found: dict[str, dict[str, str]] = {}
        for row in rows:
            found.setdefault(row.contact_id, {}).setdefault(row.kind, row.value)
        return found


def _stored(row: RowMapping, ids: dict[str, Any]) -> StoredConversation:
    reason = row["closed_reason"]
    conversation = Conversation(
        id=row["id"],
        started_at=row["started_at"],
        first_message_id="",
        last_message_at=row["last_message_at"],
        initiated_by=row["initiated_by"],
        origin=Origin(row["origin"]),
        category=row["category"],
        messages_count=row["messages_count"],
        last_inbound_at=row["last_inbound_at"],
        last_outbound_at=row["last_outbound_at"],
        closed_at=row["closed_at"],
        closed_reason=EndedReason(reason) if reason else None,
    )
    return StoredConversation(
        conversation=conversation,
        tenant_id=row["tenant_id"],
        line=row["line"],
        contact_id=row["contact_id"],
        contact_phone=ids.get("wa_id"),
        contact_bsuid=ids.get("bsuid"),
        contact_name=row["name"],
        external_ref=row["external_ref"],
    )
