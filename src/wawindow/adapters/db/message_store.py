"""Messages, their billing and drift on SQL, for the messages and billing APIs.

Reads only, in one deferred transaction (on SQLite a read does not queue behind
writers), so a page, its total and the free-tier cutoffs agree.

Message ids are compared byte by byte (``COLLATE "C"`` on PostgreSQL; SQLite's
default is binary), the order the domain ranks free-tier candidates in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

import msgspec
from sqlalchemy import ColumnElement, Engine, Row, Select, and_, func, or_, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.adapters.markets import market_of
from wawindow.domain.drift import Drift, DriftKind
from wawindow.domain.facts import Direction
from wawindow.domain.identity import IdentifierKind
from wawindow.domain.messages import MessageRecord
from wawindow.domain.pricing import Billing, Source
from wawindow.service.billing import StoredDrift
from wawindow.service.messages_query import MessageFilter, StoredMessage, TierCutoff

CHUNK: Final = 500
"""Ids per ``IN (…)`` list: well under SQLite's limit on bound parameters."""
DELIVERED_BATCH: Final = 1000
"""Delivered messages read at a time for the billing summary."""
MAX_HOPS: Final = 32
"""How many merges (contacts) or absorptions (conversations) an old id is followed through."""

_m, _th, _ln = t.messages.c, t.threads.c, t.lines.c
_CONTACT_KINDS: Final = (IdentifierKind.WA_ID.value, IdentifierKind.BSUID.value)


def _decode_record(payload: dict[str, Any]) -> MessageRecord:
    data = dict(payload)
    times = data.pop("status_times", None) or {}
    record = msgspec.convert(data, type=MessageRecord)
    decoded = {status: msgspec.convert(at, type=datetime) for status, at in times.items()}
    return replace(record, status_times=MappingProxyType(dict(sorted(decoded.items()))))


def _decode_billing(payload: dict[str, Any] | None) -> Billing | None:
    return None if payload is None else msgspec.convert(payload, type=Billing)


def _drift(row: Row[Any]) -> Drift:
    return Drift(
        DriftKind(row.kind), row.message_id, row.at, row.computed, row.provider, row.detail
    )


class _Contact:
    """What a message needs of its contact: the phone number, the BSUID, the market."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.phone = ids.get(IdentifierKind.WA_ID.value)
        self.bsuid = ids.get(IdentifierKind.BSUID.value)
        candidates = (value for value in (self.phone, self.bsuid) if value)
        self.market = next((found for v in candidates if (found := market_of(v))), None)


class SqlMessageStore(Transaction):
    def __init__(self, engine: Engine, *, delivered_batch: int = DELIVERED_BATCH) -> None:
        super().__init__(engine.execution_options(sqlite_begin="DEFERRED"))
        self.delivered_batch = delivered_batch

    # -- messages ------------------------------------------------------------------

    def message(self, tenant_id: str, message_id: str) -> StoredMessage | None:
        query = _base().where(_m.tenant_id == tenant_id, _m.id == message_id)
        rows = self._conn.execute(query).all()
        found = self._stored(tenant_id, rows)
        return found[0] if found else None

    def messages(
        self, tenant_id: str, where: MessageFilter, offset: int, limit: int
    ) -> tuple[list[StoredMessage], int]:
        conditions = self._conditions(tenant_id, where)
        counted = (
            select(func.count())
            .select_from(t.messages.join(t.threads, _th.id == _m.thread_id))
            .where(*conditions)
        )
        total = int(self._conn.execute(counted).scalar_one())
        query = (
            _base()
            .where(*conditions)
            .order_by(_m.at.desc().nulls_last(), self._id_order().desc())
            .offset(offset)
            .limit(limit)
        )
        return self._stored(tenant_id, self._conn.execute(query).all()), total

    def _conditions(self, tenant_id: str, where: MessageFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [_m.tenant_id == tenant_id]
        if where.contact_id is not None:
            conditions.append(
                _th.contact_id == self._surviving_contact(tenant_id, where.contact_id)
            )
        if where.conversation_id is not None:
            survivor = self._surviving_conversation(tenant_id, where.conversation_id)
            conditions.append(_m.conversation_id == survivor)
        if where.direction is not None:
            conditions.append(_m.direction == where.direction)
        if where.status is not None:
            conditions.append(_m.status == where.status)
        if where.since is not None:
            conditions.append(_m.at >= where.since)
        if where.until is not None:
            conditions.append(_m.at < where.until)
        return conditions

    def _surviving_contact(self, tenant_id: str, contact_id: str) -> str:
        c = t.contacts.c
        for _ in range(MAX_HOPS):
            query = select(c.merged_into).where(c.tenant_id == tenant_id, c.id == contact_id)
            survivor = self._conn.execute(query).scalar()
            if survivor is None:
                break
            contact_id = survivor
        return contact_id

    def _surviving_conversation(self, tenant_id: str, conversation_id: str) -> str:
        a = t.conversation_aliases.c
        for _ in range(MAX_HOPS):
            query = select(a.survivor_id).where(
                a.tenant_id == tenant_id, a.absorbed_id == conversation_id
            )
            survivor = self._conn.execute(query).scalar()
            if survivor is None or survivor == conversation_id:
                break
            conversation_id = survivor
        return conversation_id

    # -- billing --------------------------------------------------------------------------

    def delivered(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> Iterator[StoredMessage]:
        """In ``(delivered_at, id)`` order, read ``delivered_batch`` rows at a time: a
        month of a busy tenant is never held in memory at once. Each batch starts
        after the last row of the one before (a key, not an offset), through the
        ``(tenant_id, delivered_at)`` index."""
        query = _base().where(
            _m.tenant_id == tenant_id,
            _m.direction == Direction.OUTBOUND.value,
            _m.delivered_at < until,
        )
        order = (_m.delivered_at, self._id_order())
        after: tuple[datetime, str] | None = None
        while True:
            if after is None:
                start = _m.delivered_at >= since
            else:
                # The bare ``>=`` keeps the batch a range of the index.
                at, message_id = after
                start = and_(
                    _m.delivered_at >= at, or_(_m.delivered_at > at, order[1] > message_id)
                )
            batch = query.where(start).order_by(*order).limit(self.delivered_batch)
            rows = self._conn.execute(batch).all()
            yield from (message for message in self._stored(tenant_id, rows) if message.billing)
            if len(rows) < self.delivered_batch:
                return
            after = (rows[-1].delivered_at, rows[-1].id)

    def reported_tier_candidates(
        self, tenant_id: str, since: datetime, until: datetime
    ) -> list[StoredMessage]:
        query = _base().where(
            _m.tenant_id == tenant_id,
            _m.free_tier_candidate.is_(True),
            _m.delivered_at >= since,
            _m.delivered_at < until,
            _m.billing["source"].as_string() == Source.PROVIDER.value,
        )
        rows = self._conn.execute(query).all()
        return [
            message
            for message in self._stored(tenant_id, rows)
            if message.billing is not None and message.billing.source is Source.PROVIDER
        ]

    def free_tier_cutoff(
        self, tenant_id: str, line: str, start: datetime, end: datetime, allowance: int
    ) -> TierCutoff | None:
        if allowance <= 0:
            return None
        query = (
            select(_m.delivered_at, _m.id)
            .join(t.threads, _th.id == _m.thread_id)
            .where(
                _m.tenant_id == tenant_id,
                _th.line == line,
                _m.free_tier_candidate.is_(True),
                _m.delivered_at >= start,
                _m.delivered_at < end,
            )
            .order_by(_m.delivered_at, self._id_order())
            .offset(allowance - 1)
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else (row.delivered_at, row.id)

    def drift(
        self, tenant_id: str, kind: DriftKind | None, since: datetime, until: datetime
    ) -> list[StoredDrift]:
        d = t.drift.c
        query = (
            select(t.drift, _th.line, _th.contact_id)
            .join(t.threads, _th.id == d.thread_id)
            .where(d.tenant_id == tenant_id, d.at >= since, d.at < until)
            .order_by(d.at, d.message_id, d.kind)
        )
        if kind is not None:
            query = query.where(d.kind == kind.value)
        rows = self._conn.execute(query).all()
        return [StoredDrift(_drift(row), row.line, row.contact_id) for row in rows]

    # -- rows to messages ------------------------------------------------------------------------

    def _id_order(self) -> ColumnElement[str]:
        return _m.id.collate("C") if self._postgres else _m.id

    def _stored(self, tenant_id: str, rows: Sequence[Row[Any]]) -> list[StoredMessage]:
        contacts = self._contacts(tenant_id, {row.contact_id for row in rows})
        drift = self._drift_of(tenant_id, [row.id for row in rows])
        return [_message(row, contacts[row.contact_id], drift.get(row.id, ())) for row in rows]

    def _contacts(self, tenant_id: str, contact_ids: set[str]) -> dict[str, _Contact]:
        i = t.contact_identifiers.c
        found: dict[str, dict[str, str]] = {contact_id: {} for contact_id in contact_ids}
        for chunk in _chunks(sorted(contact_ids)):
            rows = self._conn.execute(
                select(i.contact_id, i.kind, i.value)
                .where(
                    i.tenant_id == tenant_id,
                    i.contact_id.in_(chunk),
                    i.kind.in_(_CONTACT_KINDS),
                )
                .order_by(i.value)
            )
            for row in rows:
                found[row.contact_id].setdefault(row.kind, row.value)
        return {contact_id: _Contact(ids) for contact_id, ids in found.items()}

    def _drift_of(self, tenant_id: str, message_ids: list[str]) -> dict[str, tuple[Drift, ...]]:
        d = t.drift.c
        found: dict[str, list[Drift]] = {}
        for chunk in _chunks(message_ids):
            rows = self._conn.execute(
                select(t.drift)
                .where(d.tenant_id == tenant_id, d.message_id.in_(chunk))
                .order_by(d.at, d.kind)
            )
            for row in rows:
                found.setdefault(row.message_id, []).append(_drift(row))
        return {message_id: tuple(items) for message_id, items in found.items()}


def _base() -> Select[Any]:
    """Message rows with their thread's line and contact and the line's time zone."""
    return (
        select(t.messages, _th.line, _th.contact_id, _ln.timezone)
        .join(t.threads, _th.id == _m.thread_id)
        .join(t.lines, _ln.phone_number_id == _th.line)
    )


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _message(row: Row[Any], contact: _Contact, drift: tuple[Drift, ...]) -> StoredMessage:
    return StoredMessage(
        tenant_id=row.tenant_id,
        id=row.id,
        line=row.line,
        timezone=row.timezone,
        contact_id=row.contact_id,
        contact_phone=contact.phone,
        contact_bsuid=contact.bsuid,
        market=contact.market,
        conversation_id=row.conversation_id,
        direction=row.direction,
        at=row.at,
        type=row.type,
        status=row.status,
        record=_decode_record(row.record),
        billing=_decode_billing(row.billing),
        delivered_at=row.delivered_at,
        free_tier_candidate=bool(row.free_tier_candidate),
        drift=drift,
    )
