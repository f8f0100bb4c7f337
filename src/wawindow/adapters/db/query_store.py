"""Read models on SQL, for the query API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

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
        named = self._contacts_named(tenant_id, where)
        if any(not contact_ids for contact_ids in named):
            return [], 0  # a contact filter that names nobody
        conditions = [
            c.tenant_id == tenant_id,
            *_conditions(where),
            *(c.contact_id.in_(contact_ids) for contact_ids in named),
        ]
        total = self._conn.execute(
            select(func.count()).select_from(t.conversations).where(*conditions)
        ).scalar_one()
        if where.after is not None:
            started, last_id = where.after
            # ``started_at <= started`` alone lets the index start at the cursor, so a page
            # costs the same however deep it is; the OR picks the rows after the last one.
            conditions.append(c.started_at <= started)
            conditions.append(
                or_(c.started_at < started, and_(c.started_at == started, c.id > last_id))
            )
        few = bool(named) or _running(where)
        newest: ColumnElement[Any] = SortedWithoutIndex(c.started_at) if few else c.started_at
        # The page's ids first, then their rows: the matching conversations are sorted
        # by what an index holds, and only the page's rows are read (a running status's
        # thousands of candidates cost index entries, not table rows).
        page_ids = (
            select(c.id)
            .where(*conditions)
            .order_by(newest.desc(), c.id)
            .offset(offset)
            .limit(limit)
        )
        query = (
            select(t.conversations)
            .where(c.id.in_(page_ids))
            .order_by(SortedWithoutIndex(c.started_at).desc(), c.id)
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
        query = select(t.conversations).where(c.tenant_id == tenant_id, c.id == conversation_id)
        found = self._stored(tenant_id, self._conn.execute(query).all())
        return found[0] if found else None

    def _contacts_named(self, tenant_id: str, where: ConversationFilter) -> list[list[str]]:
        """The contacts each contact filter names, looked up first.

        A short list of ids lets the (tenant_id, contact_id) index serve the
        conversations; with a subquery instead, SQLite (which has no statistics)
        walks every conversation of the tenant by time to find a contact's few.
        """
        # ``customer_id`` is found by the contact's ``external_ref`` identifier, not by
        # the ``contacts.external_ref`` column: a merge moves the absorbed contact's
        # identifier to the survivor (which keeps its own column), so each reference
        # the tenant stored still finds the merged conversations.
        named = (
            ("external_ref", where.external_ref),
            ("wa_id", where.contact_phone),
            ("bsuid", where.contact_bsuid),
        )
        queries = [_owners(tenant_id, kind, value) for kind, value in named if value is not None]
        return [list(self._conn.execute(query).scalars()) for query in queries]

    def _stored(self, tenant_id: str, rows: Sequence[Any]) -> list[StoredConversation]:
        """The rows with their contacts' details, looked up by id for the page alone (a
        join would leave the planner free to scan every contact for a short page)."""
        contact_ids = {row.contact_id for row in rows}
        ids = self._identifiers(tenant_id, contact_ids)
        contacts = self._contacts(tenant_id, contact_ids)
        return [
            _stored(row._mapping, contacts.get(row.contact_id), ids.get(row.contact_id, {}))
            for row in rows
        ]

    def _contacts(self, tenant_id: str, contact_ids: set[str]) -> dict[str, Any]:
        # By id alone, so that the primary key serves it (SQLite, without statistics,
        # would otherwise walk the tenant's index); the tenant is checked on each row.
        ct = t.contacts.c
        rows = self._conn.execute(
            select(ct.id, ct.tenant_id, ct.name, ct.external_ref).where(ct.id.in_(contact_ids))
        )
        return {row.id: row for row in rows if row.tenant_id == tenant_id}

    def _identifiers(self, tenant_id: str, contact_ids: set[str]) -> dict[str, dict[str, str]]:
        i = t.contact_identifiers.c
        # By contact id alone (its index), the tenant checked on each row, as above.
        rows = self._conn.execute(
            select(i.tenant_id, i.contact_id, i.kind, i.value)
            .where(i.contact_id.in_(contact_ids))
            .order_by(i.value)
        )
        found: dict[str, dict[str, str]] = {}
        for row in rows:
            if row.tenant_id == tenant_id:
                found.setdefault(row.contact_id, {}).setdefault(row.kind, row.value)
        return found


def _conditions(where: ConversationFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.status is not None:
        found.append(_status_condition(where.status))
    if where.line is not None:
        found.append(c.line == where.line)
    if where.since is not None:
        found.append(c.started_at >= where.since)
    if where.until is not None:
        found.append(c.started_at < where.until)
    return found


def _running(where: ConversationFilter) -> bool:
    return where.status is not None and where.status.status is not ConversationStatus.ENDED


class SortedWithoutIndex(ColumnElement[Any]):
    """A column to sort by that SQLite may not read from an index: ``+column`` there.

    SQLite keeps no statistics unless asked, and without them it walks the
    started_at index to spare the sort, even when the filter names a handful of
    rows of a large table. A contact's conversations, and the running ones, are
    few: fetched by their own index and sorted, their page costs the same at any
    table size. Other databases get the column as it is.
    """

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(SortedWithoutIndex)
def _sorted(element: SortedWithoutIndex, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(SortedWithoutIndex, "sqlite")
def _sorted_on_sqlite(element: SortedWithoutIndex, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


def _owners(tenant_id: str, kind: str, value: str) -> Select[Any]:
    i = t.contact_identifiers.c
    return select(i.contact_id).where(i.tenant_id == tenant_id, i.kind == kind, i.value == value)


def _status_condition(window: StatusWindow) -> ColumnElement[bool]:
    """The conversations with this status at ``window.now``, as ``conversation_view`` says.

    A conversation is closed only while it is open (``close_conversation``), so a
    close is before ``last_message_at`` + 24h: one that has not ended has its last
    message after ``ended_before``. Active and inactive are therefore ranges of
    ``last_message_at`` that the (tenant_id, last_message_at, closed_at) index
    serves, as big as the last day's conversations, whatever the table's size.
    """
    ended = or_(c.closed_at <= window.now, c.last_message_at <= window.ended_before)
    if window.status is ConversationStatus.ENDED:
        return ended
    running = and_(
        c.last_message_at > window.ended_before,
        or_(c.closed_at.is_(None), c.closed_at > window.now),
    )
    if window.status is ConversationStatus.ACTIVE:
        return and_(running, c.last_message_at > window.inactive_before)
    return and_(running, c.last_message_at <= window.inactive_before)


def conversation_from_row(row: Mapping[Any, Any]) -> Conversation:
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


def _stored(row: RowMapping, contact: Any, ids: dict[str, Any]) -> StoredConversation:
    return StoredConversation(
        conversation=conversation_from_row(row),
        tenant_id=row["tenant_id"],
        thread_id=row["thread_id"],
        line=row["line"],
        contact_id=row["contact_id"],
        contact_phone=ids.get("wa_id"),
        contact_bsuid=ids.get("bsuid"),
        contact_name=contact.name if contact else None,
        external_ref=contact.external_ref if contact else None,
    )
