"""Webhook endpoints and deliveries on SQL, for the API: one transaction per instance."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.domain.delivery_order import DeliveryStatus
from wawindow.service.webhook_ports import (
    Attempt,
    DeliveryFilter,
    DeliveryRecord,
    Endpoint,
    NewDelivery,
    OutboxEvent,
    SigningSecrets,
)

E, D, A = t.webhook_endpoints, t.webhook_deliveries, t.webhook_attempts


class SqlWebhookStore(Transaction):
    # -- endpoints -----------------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint, secret: str) -> None:
        values = {**endpoint_values(endpoint), "secret": secret}
        self._conn.execute(insert(E).values(id=endpoint.id, tenant_id=endpoint.tenant_id, **values))

    def endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        query = select(E).where(E.c.id == endpoint_id, E.c.tenant_id == tenant_id)
        row = self._conn.execute(query.with_for_update()).mappings().first()
        return None if row is None else endpoint_of(row)

    def endpoints(self, tenant_id: str) -> list[Endpoint]:
        query = select(E).where(E.c.tenant_id == tenant_id).order_by(E.c.created_at, E.c.id)
        return [endpoint_of(row) for row in self._conn.execute(query).mappings()]

    def save_endpoint(self, endpoint: Endpoint) -> None:
        statement = update(E).where(E.c.id == endpoint.id).values(**endpoint_values(endpoint))
        self._conn.execute(statement)

    def secrets(self, endpoint_id: str) -> SigningSecrets:
        row = self._conn.execute(select(E).where(E.c.id == endpoint_id)).mappings().one()
        return secrets_of(row)

    def set_secrets(self, endpoint_id: str, secrets: SigningSecrets, at: datetime) -> None:
        values = {
            "secret": secrets.current,
            "previous_secret": secrets.previous,
            "previous_secret_until": secrets.previous_until,
            "updated_at": at,
        }
        self._conn.execute(update(E).where(E.c.id == endpoint_id).values(**values))

    def delete_endpoint(self, endpoint_id: str) -> None:
        of_endpoint = select(D.c.id).where(D.c.endpoint_id == endpoint_id)
        self._conn.execute(delete(A).where(A.c.delivery_id.in_(of_endpoint)))
        self._conn.execute(delete(D).where(D.c.endpoint_id == endpoint_id))
        self._conn.execute(delete(E).where(E.c.id == endpoint_id))

    def fail_pending(self, endpoint_id: str, reason: str, at: datetime) -> int:
        return fail_pending(self._conn, endpoint_id, reason, at)

    def requeue_failed(self, endpoint_id: str, since: datetime, at: datetime) -> int:
        where = and_(
            D.c.endpoint_id == endpoint_id,
            D.c.status == DeliveryStatus.FAILED,
            D.c.created_at >= since,
        )
        result = self._conn.execute(update(D).where(where).values(**new_round(at)))
        return int(result.rowcount)

    # -- events and deliveries ---------------------------------------------------------------

    def add_event(self, event: OutboxEvent) -> int:
        values = {
            "tenant_id": event.tenant_id,
            "event_key": event.event_key,
            "type": event.type,
            "thread_id": None,
            "occurred_at": event.occurred_at,
            "data": dict(event.data),
            "created_at": event.occurred_at,
        }
        inserted = self._conn.execute(insert(t.outbox).values(**values).returning(t.outbox.c.id))
        return int(inserted.scalar_one())

    def add_delivery(self, delivery: NewDelivery) -> None:
        add_deliveries(self._conn, [delivery])

    def deliveries(
        self, tenant_id: str, where: DeliveryFilter, offset: int, limit: int
    ) -> tuple[list[DeliveryRecord], int]:
        conditions = _filter(tenant_id, where)
        total = self._conn.execute(select(func.count()).select_from(D).where(*conditions))
        query = _delivery_rows().where(*conditions).order_by(D.c.outbox_id.desc(), D.c.id)
        rows = list(self._conn.execute(query.offset(offset).limit(limit)).mappings())
        return self._with_attempts(rows), int(total.scalar_one())

    def delivery(self, tenant_id: str, delivery_id: str) -> DeliveryRecord | None:
        query = _delivery_rows().where(D.c.id == delivery_id, D.c.tenant_id == tenant_id)
        rows = list(self._conn.execute(query).mappings())
        found = self._with_attempts(rows)
        return found[0] if found else None

    def redeliver(self, delivery_id: str, at: datetime) -> None:
        # Not one a worker claimed since it was read: that one is being sent already.
        where = and_(D.c.id == delivery_id, D.c.status != DeliveryStatus.DELIVERING)
        self._conn.execute(update(D).where(where).values(**new_round(at)))

    def _with_attempts(self, rows: Sequence[RowMapping]) -> list[DeliveryRecord]:
        ids = [row["id"] for row in rows]
        log: dict[str, list[Attempt]] = {delivery_id: [] for delivery_id in ids}
        if ids:
            query = select(A).where(A.c.delivery_id.in_(ids)).order_by(A.c.id)
            for row in self._conn.execute(query).mappings():
                log[row["delivery_id"]].append(attempt_of(row))
        return [delivery_of(row, tuple(log[row["id"]])) for row in rows]


# -- shared with the delivery queue ------------------------------------------------------------


def endpoint_values(endpoint: Endpoint) -> dict[str, Any]:
    """The columns a save writes (everything but id, tenant and secrets)."""
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def endpoint_of(row: RowMapping) -> Endpoint:
    return Endpoint(
        id=row["id"],
        tenant_id=row["tenant_id"],
        url=row["url"],
        events=tuple(row["events"]),
        description=row["description"],
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        disabled_at=row["disabled_at"],
        disabled_reason=row["disabled_reason"],
        failing_since=row["failing_since"],
    )


def secrets_of(row: RowMapping) -> SigningSecrets:
    return SigningSecrets(row["secret"], row["previous_secret"], row["previous_secret_until"])


def add_deliveries(conn: Connection, deliveries: Sequence[NewDelivery]) -> None:
    """Insert those whose endpoint has no delivery of their event yet."""
    if not deliveries:
        return
    rows = [
        {
            "id": delivery.id,
            "tenant_id": delivery.tenant_id,
            "endpoint_id": delivery.endpoint_id,
            "outbox_id": delivery.outbox_id,
            "event_type": delivery.event_type,
            "ordering_key": delivery.ordering_key,
            "status": delivery.status.value,
            "attempts": 0,
            "round_attempts": 0,
            "next_attempt_at": delivery.next_attempt_at,
            "last_error": delivery.last_error,
            "created_at": delivery.created_at,
            "updated_at": delivery.created_at,
        }
        for delivery in deliveries
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # executemany: SQLAlchemy batches the rows into few statements, compiled once.
    conn.execute(dialect.insert(D).on_conflict_do_nothing(), rows)


def fail_pending(conn: Connection, endpoint_id: str, reason: str, at: datetime) -> int:
    where = and_(D.c.endpoint_id == endpoint_id, D.c.status == DeliveryStatus.PENDING)
    values = {
        "status": DeliveryStatus.FAILED.value,
        "next_attempt_at": None,
        "last_error": reason,
        "updated_at": at,
    }
    return int(conn.execute(update(D).where(where).values(**values)).rowcount)


def new_round(at: datetime) -> dict[str, Any]:
    """The columns that start a new round of attempts, due at ``at``."""
    return {
        "status": DeliveryStatus.PENDING.value,
        "next_attempt_at": at,
        "round_attempts": 0,
        "round_started_at": None,
        "lease_until": None,
        "lease_token": None,
        "updated_at": at,
    }


def event_columns() -> list[ColumnElement[Any]]:
    """The outbox event of a delivery, with its thread's line and contact."""
    o = t.outbox
    return [
        o.c.id.label("event_outbox_id"),
        o.c.tenant_id.label("event_tenant_id"),
        o.c.type.label("event_type_name"),
        o.c.event_key.label("event_key"),
        o.c.occurred_at.label("event_occurred_at"),
        o.c.data.label("event_data"),
        t.threads.c.line.label("event_line"),
        t.threads.c.contact_id.label("event_contact_id"),
    ]


def event_of(row: RowMapping) -> OutboxEvent:
    return OutboxEvent(
        outbox_id=row["event_outbox_id"],
        tenant_id=row["event_tenant_id"],
        type=row["event_type_name"],
        event_key=row["event_key"],
        occurred_at=row["event_occurred_at"],
        data=row["event_data"],
        line=row["event_line"],
        contact_id=row["event_contact_id"],
    )


def attempt_of(row: RowMapping) -> Attempt:
    return Attempt(
        row["at"], row["status_code"], row["latency_ms"], row["response_excerpt"], row["error"]
    )


def delivery_of(row: RowMapping, attempts: Iterable[Attempt]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row["id"],
        tenant_id=row["tenant_id"],
        endpoint_id=row["endpoint_id"],
        event=event_of(row),
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attempt_log=tuple(attempts),
    )


def _delivery_rows() -> Select[Any]:
    joined = D.join(t.outbox, t.outbox.c.id == D.c.outbox_id).outerjoin(
        t.threads, t.threads.c.id == t.outbox.c.thread_id
    )
    return select(D, *event_columns()).select_from(joined)


def _filter(tenant_id: str, where: DeliveryFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [D.c.tenant_id == tenant_id]
    if where.endpoint_id is not None:
        conditions.append(D.c.endpoint_id == where.endpoint_id)
    if where.status is not None:
        conditions.append(D.c.status == where.status.value)
    if where.event_type is not None:
        conditions.append(D.c.event_type == where.event_type)
    return conditions
