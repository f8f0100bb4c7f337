"""Read models on SQL, for the query API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, and_, func, or_, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.domain.conversations import Conversation, ConversationStatus, EndedReason, Origin
from wawindow.service.queries import ConversationFilter, StatusWindow, StoredConversation

c = t.conversations.c


class SqlQueryStore(Transaction):
    """Reads in one transaction, so a page and its total agree."""

    def conversations(
        self, tenant_id: str, where: ConversationFilter, offset: int, limit: int
    ) -> tuple[list[StoredConversation], int]:
        conditions = [c.tenant_id == tenant_id, *self._conditions(tenant_id, where)]
        total = self._conn.execute(
            select(func.count()).select_from(t.conversations).where(*conditions)
        ).scalar_one()
        if where.after is not None:
            started, last_id = where.after
            conditions.append(
                or_(c.started_at < started, and_(c.started_at == started, c.id > last_id))
            )
        query = (
            self._with_contact()
            .where(*conditions)
            .order_by(c.started_at.desc(), c.id)
            .offset(offset)
            .limit(limit)
        )
        return self._stored(tenant_id, self._conn.execute(query).all()), int(total)

    def conversation(self, tenant_id: str, conversation_id: str) -> StoredConversation | None:
        a = t.conversation_aliases.c
        for _ in range(8):  # an alias chain is short; the bound guards against a cycle
            survivor = self._conn.execute(
                select(a.survivor_id).where(
                    a.tenant_id == tenant_id, a.absorbed_id == conversation_id
                )
            ).scalar()
            if survivor is None:
                break
            conversation_id = survivor
        query = self._with_contact().where(c.tenant_id == tenant_id, c.id == conversation_id)
        found = self._stored(tenant_id, self._conn.execute(query).all())
        return found[0] if found else None

    def _with_contact(self) -> Select[Any]:
        return select(t.conversations, t.contacts.c.name, t.contacts.c.external_ref).join(
            t.contacts, t.contacts.c.id == c.contact_id
        )

    def _conditions(self, tenant_id: str, where: ConversationFilter) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if where.status is not None:
            found.append(_status_condition(where.status))
        if where.line is not None:
            found.append(c.line == where.line)
        if where.since is not None:
            found.append(c.started_at >= where.since)
        if where.until is not None:
            found.append(c.started_at < where.until)
        if where.external_ref is not None:
            refs = select(t.contacts.c.id).where(
                t.contacts.c.tenant_id == tenant_id, t.contacts.c.external_ref == where.external_ref
            )
            found.append(c.contact_id.in_(refs))
        for kind, value in (("wa_id", where.contact_phone), ("bsuid", where.contact_bsuid)):
            if value is not None:
                found.append(c.contact_id.in_(_owners(tenant_id, kind, value)))
        return found

    def _stored(self, tenant_id: str, rows: Sequence[Any]) -> list[StoredConversation]:
        ids = self._identifiers(tenant_id, {row.contact_id for row in rows})
        return [_stored(row._mapping, ids.get(row.contact_id, {})) for row in rows]

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


def _owners(tenant_id: str, kind: str, value: str) -> Select[Any]:
    i = t.contact_identifiers.c
    return select(i.contact_id).where(i.tenant_id == tenant_id, i.kind == kind, i.value == value)


def _status_condition(window: StatusWindow) -> ColumnElement[bool]:
    ended = or_(
        and_(c.closed_at.is_not(None), c.closed_at <= window.now),
        c.last_message_at <= window.ended_before,
    )
    if window.status is ConversationStatus.ENDED:
        return ended
    recent = c.last_message_at > window.inactive_before
    if window.status is ConversationStatus.ACTIVE:
        return and_(~ended, recent)
    return and_(~ended, ~recent)


def conversation_from_row(row: RowMapping) -> Conversation:
    """A stored conversation row as the domain's Conversation."""
    reason = row["closed_reason"]
    return Conversation(
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


def _stored(row: RowMapping, ids: dict[str, Any]) -> StoredConversation:
    return StoredConversation(
        conversation=conversation_from_row(row),
        tenant_id=row["tenant_id"],
        thread_id=row["thread_id"],
        line=row["line"],
        contact_id=row["contact_id"],
        contact_phone=ids.get("wa_id"),
        contact_bsuid=ids.get("bsuid"),
        contact_name=row["name"],
        external_ref=row["external_ref"],
    )
