"""The reads of ``GET /v1/session-status`` (and of the API key before it) on SQL.

The most frequent request of the API: an integration asks it before every
send. It usually runs four indexed lookups (the key, the contact, the thread
with its conversation, the line's templates when the window is closed), so it
takes them through ``prepared`` (statements compiled once, run on the driver's
connection, one read transaction for the API key and the status), which costs
a fraction of going through ``Connection.execute`` for each. What it returns is
the same as any other read: ``service.contacts.SessionStore`` and
``service.tenants``' ``key_owner``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.contact_store import CONTACTS_WITH, MERGED_INTO, follow_merges
from wawindow.adapters.db.prepared import ReadConnection, Statements
from wawindow.adapters.db.query_store import conversation_from_row
from wawindow.adapters.db.tenant_store import KEY_OWNER, key_owner_from_row
from wawindow.domain.conversations import Conversation
from wawindow.domain.identity import Identifier
from wawindow.service.contacts import StoredTemplate, ThreadSnapshot
from wawindow.service.tenants import KeyOwner

_ln, _th, _cv, _tp = t.lines.c, t.threads.c, t.conversations.c, t.templates.c
_CONVERSATION_COLUMNS = tuple(column.name for column in t.conversations.columns)
# The conversation the thread's state names comes with the thread: one statement.
_thread_and_conversation = t.threads.outerjoin(
    t.conversations,
    and_(
        _cv.id == _th.state["conversation_id"].as_string(),
        _cv.tenant_id == _th.tenant_id,
        _cv.thread_id == _th.id,
    ),
)

STATEMENTS = Statements(
    key_owner=KEY_OWNER,
    contacts_with=CONTACTS_WITH,
    merged_into=MERGED_INTO,
    has_line=select(_ln.phone_number_id).where(
        _ln.phone_number_id == bindparam("line"), _ln.tenant_id == bindparam("tenant_id")
    ),
    thread=select(
        _th.id, _th.last_inbound_at, _th.window_ends_at, _th.state, *t.conversations.columns
    )
    .select_from(_thread_and_conversation)
    .where(
        _th.tenant_id == bindparam("tenant_id"),
        _th.line == bindparam("line"),
        _th.contact_id == bindparam("contact_id"),
    ),
    latest_conversation=select(t.conversations)
    .where(_cv.tenant_id == bindparam("tenant_id"), _cv.thread_id == bindparam("thread_id"))
    .order_by(_cv.started_at.desc(), _cv.id.desc())
    .limit(1),
    templates=select(
        _tp.template_id,
        _tp.name,
        _tp.language,
        _tp.category,
        _tp.status,
        _tp.body,
        _tp.param_count,
    )
    .where(_tp.tenant_id == bindparam("tenant_id"), _tp.line == bindparam("line"))
    .order_by(_tp.name, _tp.language),
)


class SqlSessionReader:
    """One read transaction for an API key's owner and a line's session with a contact."""

    def __init__(self, engine: Engine) -> None:
        self._read = ReadConnection(engine, STATEMENTS)

    def __enter__(self) -> SqlSessionReader:
        self._read.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._read.__exit__(*exc_info)

    # -- the API key (``service.tenants.owner_of_key``) --------------------------------

    def key_owner(self, key_hash: str) -> KeyOwner | None:
        row = self._read.first("key_owner", key_hash=key_hash)
        return None if row is None else key_owner_from_row(*row)

    # -- the contact (``service.contacts.ContactReader``'s lookups) ----------------------

    def contacts_with(self, tenant_id: str, identifier: Identifier) -> list[str]:
        rows = self._read.all(
            "contacts_with",
            tenant_id=tenant_id,
            kind=str(identifier.kind),
            value=identifier.value,
        )
        found = (
            contact_id if merged_into is None else self.resolve(tenant_id, contact_id)
            for contact_id, merged_into in rows
        )
        return list(dict.fromkeys(contact_id for contact_id in found if contact_id is not None))

    def resolve(self, tenant_id: str, contact_id: str) -> str | None:
        return follow_merges(
            lambda current: self._read.first(
                "merged_into", tenant_id=tenant_id, contact_id=current
            ),
            contact_id,
        )

    # -- the session (``service.contacts.SessionStore``) ---------------------------------

    def has_line(self, tenant_id: str, line: str) -> bool:
        return self._read.first("has_line", tenant_id=tenant_id, line=line) is not None

    def thread_snapshot(self, tenant_id: str, line: str, contact_id: str) -> ThreadSnapshot | None:
        row = self._read.first("thread", tenant_id=tenant_id, line=line, contact_id=contact_id)
        if row is None:
            return None
        thread_id, last_inbound_at, window_ends_at, state, *conversation = row
        state = state if isinstance(state, Mapping) else {}
        fep = state.get("free_entry_point") or {}
        return ThreadSnapshot(
            last_inbound_at=last_inbound_at,
            window_ends_at=window_ends_at,
            fep_opened_at=_instant(fep.get("opened_at")),
            fep_expires_at=_instant(fep.get("expires_at")),
            conversation=self._conversation(conversation)
            or self._latest_conversation(tenant_id, thread_id),
        )

    @staticmethod
    def _conversation(row: Sequence[Any]) -> Conversation | None:
        """The conversation columns of a ``thread`` row: nulls when its state names none."""
        if row[0] is None:
            return None
        return conversation_from_row(dict(zip(_CONVERSATION_COLUMNS, row, strict=True)))

    def _latest_conversation(self, tenant_id: str, thread_id: str) -> Conversation | None:
        """The thread's latest conversation, for a state that names none (or a stale one)."""
        row = self._read.first("latest_conversation", tenant_id=tenant_id, thread_id=thread_id)
        return None if row is None else self._conversation(row)

    def templates(self, tenant_id: str, line: str) -> list[StoredTemplate]:
        rows = self._read.all("templates", tenant_id=tenant_id, line=line)
        return [StoredTemplate(*row) for row in rows]


def _instant(value: object) -> datetime | None:
    """A time from the thread's state JSON (ISO 8601 text, as ``codec.to_json`` writes it)."""
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, str) and value:
        found = datetime.fromisoformat(value)
    else:
        return None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
