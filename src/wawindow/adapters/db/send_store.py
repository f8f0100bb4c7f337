"""Sends on SQL: the gate's reads and the ``sends`` table (the ports of ``service.sending``).

``SqlSendStore`` is an ``SqlContactStore``, so a send resolves its recipient with
the very queries ingest and the contacts API use, and an accepted send's
outbound fact is folded into its thread in the same transaction that marks the
send ``accepted``. ``SqlSendStores`` hands out a deferred transaction for reads
(on SQLite it does not queue behind writers) and a write transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, RowMapping, func, select, update

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.contact_store import SqlContactStore
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.adapters.db.template_store import template_from_row
from wawindow.adapters.db.upserts import insert_ignoring
from wawindow.adapters.markets import market_of
from wawindow.domain.templates import Template
from wawindow.service.ports import LineInfo, ThreadRef
from wawindow.service.send_records import SendOutcome, SendRecord, SendSource, SendState
from wawindow.service.sending import SendLine

_s, _m, _th = t.sends.c, t.messages.c, t.threads.c


class SqlSendStore(SqlContactStore, SqlRateStore):
    """Contacts, threads, templates, the rate card and sends in one transaction."""

    # -- the gate's reads --------------------------------------------------------------

    def send_line(self, tenant_id: str, phone_number_id: str) -> SendLine | None:
        ln = t.lines.c
        row = self._conn.execute(
            select(t.lines).where(ln.phone_number_id == phone_number_id, ln.tenant_id == tenant_id)
        ).first()
        if row is None:
            return None
        info = LineInfo(
            phone_number_id=row.phone_number_id,
            tenant_id=row.tenant_id,
            app_secret=row.app_secret,
            verify_token=row.verify_token,
            timezone=row.timezone,
            account_id=row.account_id,
        )
        return SendLine(info, row.access_token, row.graph_base_url)

    def thread_of(self, tenant_id: str, line: str, contact_id: str) -> ThreadRef | None:
        row = self._conn.execute(
            select(_th.id, _th.version).where(
                _th.tenant_id == tenant_id, _th.line == line, _th.contact_id == contact_id
            )
        ).first()
        if row is None:
            return None
        return ThreadRef(row.id, tenant_id, line, contact_id, row.version)

    def line_templates(self, tenant_id: str, line: str) -> list[Template]:
        tp = t.templates.c
        rows = self._conn.execute(
            select(t.templates)
            .where(tp.tenant_id == tenant_id, tp.line == line)
            .order_by(tp.name, tp.language)
        )
        return [template_from_row(row._mapping) for row in rows]

    def service_delivered(
        self, tenant_id: str, line: str, start: datetime, end: datetime, limit: int
    ) -> int:
        candidates = (
            select(_m.id)
            .join(t.threads, _th.id == _m.thread_id)
            .where(
                _m.tenant_id == tenant_id,
                _th.line == line,
                _m.free_tier_candidate.is_(True),
                _m.delivered_at >= start,
                _m.delivered_at < end,
            )
            .limit(limit)
            .subquery()
        )
        counted = self._conn.execute(select(func.count()).select_from(candidates)).scalar_one()
        return int(counted)

    def market_of(self, identifier: str) -> str | None:
        return market_of(identifier)

    # -- the sends table ------------------------------------------------------------------

    def send_by_key(self, tenant_id: str, key: str) -> SendRecord | None:
        row = self._conn.execute(
            select(t.sends).where(_s.tenant_id == tenant_id, _s.idempotency_key == key)
        ).first()
        return None if row is None else _record(row._mapping)

    def add_send(self, record: SendRecord) -> bool:
        values = {
            "id": record.id,
            "tenant_id": record.tenant_id,
            "line": record.line,
            "contact_id": record.contact_id,
            "recipient": record.recipient,
            "source": record.source.value,
            "idempotency_key": record.idempotency_key,
            "request_hash": record.request_hash,
            "state": record.state.value,
            "wamid": record.wamid,
            "decision": record.decision,
            "error": record.error,
            "response_status": record.response_status,
            "response": record.response,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }
        return insert_ignoring(self._conn, t.sends, values)

    def finish_send(self, send_id: str, outcome: SendOutcome, at: datetime) -> SendRecord:
        changes: dict[str, Any] = {
            "state": outcome.state.value,
            "wamid": outcome.wamid,
            "error": outcome.error,
            "response_status": outcome.response_status,
            "response": outcome.response,
            "updated_at": at,
        }
        if outcome.contact_id is not None:
            changes["contact_id"] = outcome.contact_id
        self._conn.execute(update(t.sends).where(_s.id == send_id).values(**changes))
        return self.send(send_id)

    def send(self, send_id: str) -> SendRecord:
        row = self._conn.execute(select(t.sends).where(_s.id == send_id)).one()
        return _record(row._mapping)


class SqlSendStores:
    """Transactions for ``service.sending``: deferred for reads, immediate for writes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def reader(self) -> SqlSendStore:
        return SqlSendStore.reading(self._engine)

    def writer(self) -> SqlSendStore:
        return SqlSendStore(self._engine)


def _record(row: RowMapping) -> SendRecord:
    return SendRecord(
        id=row["id"],
        tenant_id=row["tenant_id"],
        line=row["line"],
        contact_id=row["contact_id"],
        recipient=row["recipient"],
        source=SendSource(row["source"]),
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        state=SendState(row["state"]),
        wamid=row["wamid"],
        decision=row["decision"],
        error=row["error"],
        response_status=row["response_status"],
        response=row["response"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
