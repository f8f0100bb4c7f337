"""The webhook delivery queue on SQL, for the dispatcher: one transaction per instance.

Fan-out reads ``webhook_fanout_queue``, which a trigger on ``outbox`` fills in the
transaction that writes each event (why: ``service/webhook_fanout.py``). One
fan-out runs at a time: on PostgreSQL behind a transaction-scoped advisory lock
that the others do not wait for; on SQLite behind the write lock every
transaction takes (``BEGIN IMMEDIATE``).

Claims follow ``domain.delivery_order.ready``: a delivery is claimable when it is
due (pending and its time has come, or delivering under a lapsed lease) and no
earlier delivery of its (endpoint, ordering key) is still pending or delivering.
On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED``, so workers claiming
at once take different deliveries and never wait for each other; a row another
worker has just claimed is re-checked by PostgreSQL after its lock is released
and dropped, as it is no longer due. A claim sets a lease and a token; the
attempt is recorded only under that token, so a worker whose lease lapsed and
was reclaimed cannot overwrite the newer claim (its attempt is still logged).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import (
    ColumnElement,
    Engine,
    RowMapping,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.adapters.db.webhook_store import (
    add_deliveries,
    endpoint_of,
    event_columns,
    event_of,
    fail_pending,
    secrets_of,
)
from wawindow.domain.delivery_order import ACTIVE, DeliveryStatus
from wawindow.service.webhook_ports import (
    Attempt,
    AttemptOutcome,
    ClaimedDelivery,
    Endpoint,
    NewDelivery,
    OutboxEvent,
)

E, D, A, Q = (
    t.webhook_endpoints,
    t.webhook_deliveries,
    t.webhook_attempts,
    t.webhook_fanout_queue,
)
# Any constant shared by all wawindow processes; "whfo" (webhook fan-out) in ASCII.
_FAN_OUT_LOCK: Final = 0x7768666F
LOST_ATTEMPT: Final = "no result: the worker's claim lapsed before it recorded one"


class SqlDeliveryQueue(Transaction):
    # -- fan-out ---------------------------------------------------------------------------

    def lock_fan_out(self) -> bool:
        if not self._postgres:
            return True
        locked = self._conn.execute(select(func.pg_try_advisory_xact_lock(_FAN_OUT_LOCK)))
        return bool(locked.scalar_one())

    def queued_events(self, limit: int) -> list[OutboxEvent]:
        joined = Q.join(t.outbox, t.outbox.c.id == Q.c.outbox_id).outerjoin(
            t.threads, t.threads.c.id == t.outbox.c.thread_id
        )
        query = select(*event_columns()).select_from(joined).order_by(Q.c.outbox_id).limit(limit)
        return [event_of(row) for row in self._conn.execute(query).mappings()]

    def endpoints_of(self, tenant_ids: Iterable[str]) -> dict[str, list[Endpoint]]:
        # FOR KEY SHARE: an endpoint being deleted now is either gone from this answer
        # or deleted after this fan-out commits (with the deliveries made for it).
        query = (
            select(E)
            .where(E.c.tenant_id.in_(sorted(tenant_ids)))
            .order_by(E.c.id)
            .with_for_update(read=True, key_share=True)
        )
        found: dict[str, list[Endpoint]] = {}
        for row in self._conn.execute(query).mappings():
            found.setdefault(row["tenant_id"], []).append(endpoint_of(row))
        return found

    def add_deliveries(self, deliveries: Sequence[NewDelivery]) -> None:
        add_deliveries(self._conn, deliveries)

    def dequeue(self, outbox_ids: Sequence[int]) -> None:
        self._conn.execute(delete(Q).where(Q.c.outbox_id.in_(outbox_ids)))

    # -- claims ------------------------------------------------------------------------------

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        if self._postgres:
            # A generic plan, made once for a prepared statement while the tables were
            # small, can stay on full scans as the queue grows: plan each query anew.
            self._conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[ClaimedDelivery]:
        lapsed = list(self._conn.execute(_lapsed(now, limit)).scalars())
        if lapsed:
            self._log_lost_attempts(lapsed, now)
        pending = list(self._conn.execute(_due(now, limit - len(lapsed))).scalars())
        ids = lapsed + pending
        if not ids:
            return []
        token = uuid.uuid4().hex
        claim = {"status": DeliveryStatus.DELIVERING.value, "lease_until": lease_until}
        self._conn.execute(update(D).where(D.c.id.in_(ids)).values(**claim, lease_token=token))
        return self._claimed(ids)

    def _log_lost_attempts(self, ids: Sequence[str], at: datetime) -> None:
        """A worker claimed these and stopped before recording: that attempt counts."""
        lost = [
            {"tenant_id": row.tenant_id, "delivery_id": row.id, "at": at, "error": LOST_ATTEMPT}
            for row in self._conn.execute(select(D.c.id, D.c.tenant_id).where(D.c.id.in_(ids)))
        ]
        self._conn.execute(insert(A), lost)
        self._conn.execute(
            update(D)
            .where(D.c.id.in_(ids))
            .values(
                attempts=D.c.attempts + 1,
                round_attempts=D.c.round_attempts + 1,
                round_started_at=func.coalesce(D.c.round_started_at, at),
                last_attempt_at=at,
                last_status_code=None,
                last_error=LOST_ATTEMPT,
            )
        )

    def _claimed(self, ids: Sequence[str]) -> list[ClaimedDelivery]:
        joined = (
            D.join(E, E.c.id == D.c.endpoint_id)
            .join(t.outbox, t.outbox.c.id == D.c.outbox_id)
            .outerjoin(t.threads, t.threads.c.id == t.outbox.c.thread_id)
        )
        query = (
            select(
                D.c.id,
                D.c.tenant_id,
                D.c.endpoint_id,
                D.c.lease_token,
                D.c.round_attempts,
                D.c.round_started_at,
                D.c.ordering_key,
                E.c.url,
                E.c.secret,
                E.c.previous_secret,
                E.c.previous_secret_until,
                *event_columns(),
            )
            .select_from(joined)
            .where(D.c.id.in_(ids))
            .order_by(D.c.outbox_id, D.c.id)
        )
        return [_claimed_of(row) for row in self._conn.execute(query).mappings()]

    # -- results -----------------------------------------------------------------------------

    def finish(self, results: Sequence[tuple[ClaimedDelivery, AttemptOutcome]]) -> int:
        ids = [claimed.id for claimed, _ in results]
        # Locked, so that a worker reclaiming a lapsed lease now cannot slip in between.
        current = self._conn.execute(
            select(D.c.id, D.c.status, D.c.lease_token).where(D.c.id.in_(ids)).with_for_update()
        )
        still = {row.id: row for row in current}
        attempts = [_attempt_row(c, o.attempt) for c, o in results if c.id in still]
        if attempts:
            self._conn.execute(insert(A), attempts)
        ours = [
            _finished_row(claimed, outcome)
            for claimed, outcome in results
            if claimed.id in still
            and still[claimed.id].status == DeliveryStatus.DELIVERING
            and still[claimed.id].lease_token == claimed.lease_token
        ]
        if ours:
            self._conn.execute(_FINISH, ours)
        retried = [
            _waiting_row(claimed, outcome)
            for claimed, outcome in results
            if claimed.id in still
            and still[claimed.id].lease_token == claimed.lease_token
            and outcome.next_attempt_at is not None
        ]
        if retried:
            self._conn.execute(_WAIT_BEHIND_RETRY, retried)
        return len(ours)

    def endpoint_succeeded(self, endpoint_id: str) -> None:
        where = and_(E.c.id == endpoint_id, E.c.failing_since.is_not(None))
        self._conn.execute(update(E).where(where).values(failing_since=None))

    def endpoint_failed(self, endpoint_id: str, at: datetime) -> datetime | None:
        statement = (
            update(E)
            .where(E.c.id == endpoint_id)
            .values(failing_since=func.coalesce(E.c.failing_since, at))
            .returning(E.c.failing_since)
        )
        since: datetime | None = self._conn.execute(statement).scalar_one_or_none()
        return since

    def disable_endpoint(self, endpoint_id: str, reason: str, at: datetime) -> None:
        values = {"enabled": False, "disabled_at": at, "disabled_reason": reason, "updated_at": at}
        where = and_(E.c.id == endpoint_id, E.c.enabled.is_(True))
        self._conn.execute(update(E).where(where).values(**values))
        fail_pending(self._conn, endpoint_id, f"endpoint disabled: {reason}", at)


def _waits_behind() -> ColumnElement[bool]:
    """An earlier delivery of the same endpoint and ordering key is still to be done."""
    earlier = D.alias("earlier")
    return (
        select(earlier.c.id)
        .where(
            earlier.c.endpoint_id == D.c.endpoint_id,
            earlier.c.ordering_key == D.c.ordering_key,
            _active(earlier.c.status),
            earlier.c.outbox_id < D.c.outbox_id,
        )
        .exists()
    )


def _active(status: ColumnElement[str]) -> ColumnElement[bool]:
    """``status IN ('pending', 'delivering')`` with the values written out, as the partial
    index ``ix_webhook_deliveries_active`` says it (SQLite then uses that index)."""
    return status.in_([literal_column(f"'{value}'") for value in sorted(ACTIVE, reverse=True)])


def _endpoint_enabled() -> ColumnElement[bool]:
    return select(E.c.id).where(E.c.id == D.c.endpoint_id, E.c.enabled.is_(True)).exists()


def _lapsed(now: datetime, limit: int) -> Select[str]:
    """Deliveries whose worker's lease ran out (rare: a worker died or hung)."""
    lapsed = or_(D.c.lease_until.is_(None), D.c.lease_until <= now)
    return (
        select(D.c.id)
        .where(D.c.status == DeliveryStatus.DELIVERING, lapsed)
        .where(_endpoint_enabled(), ~_waits_behind())
        .order_by(D.c.outbox_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _due(now: datetime, limit: int) -> Select[str]:
    """Pending deliveries whose time has come, earliest first, along the
    (status, next_attempt_at, outbox_id) index: the scan stops once ``limit`` are found."""
    return (
        select(D.c.id)
        .where(D.c.status == DeliveryStatus.PENDING, D.c.next_attempt_at <= now)
        .where(_endpoint_enabled(), ~_waits_behind())
        .order_by(D.c.next_attempt_at, D.c.outbox_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _claimed_of(row: RowMapping) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=row["id"],
        tenant_id=row["tenant_id"],
        endpoint_id=row["endpoint_id"],
        url=row["url"],
        secrets=secrets_of(row),
        event=event_of(row),
        lease_token=row["lease_token"],
        round_attempts=row["round_attempts"],
        round_started_at=row["round_started_at"],
        ordering_key=row["ordering_key"],
    )


def _attempt_row(claimed: ClaimedDelivery, attempt: Attempt) -> dict[str, object]:
    return {
        "tenant_id": claimed.tenant_id,
        "delivery_id": claimed.id,
        "at": attempt.at,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response_excerpt": attempt.response_excerpt,
        "error": attempt.error,
    }


def _finished_row(claimed: ClaimedDelivery, outcome: AttemptOutcome) -> dict[str, object]:
    attempt = outcome.attempt
    return {
        "b_id": claimed.id,
        "b_token": claimed.lease_token,
        "b_status": outcome.status.value,
        "b_next": outcome.next_attempt_at,
        "b_at": attempt.at,
        "b_code": attempt.status_code,
        "b_error": attempt.error,
    }


# One attempt's result, for many deliveries at once (executemany).
_FINISH: Final = (
    update(D)
    .where(D.c.id == bindparam("b_id"), D.c.lease_token == bindparam("b_token"))
    .values(
        status=bindparam("b_status"),
        next_attempt_at=bindparam("b_next"),
        attempts=D.c.attempts + 1,
        round_attempts=D.c.round_attempts + 1,
        round_started_at=func.coalesce(D.c.round_started_at, bindparam("b_at", type_=t.When)),
        last_attempt_at=bindparam("b_at"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        lease_until=None,
        lease_token=None,
        updated_at=bindparam("b_at"),
    )
)


def _waiting_row(claimed: ClaimedDelivery, outcome: AttemptOutcome) -> dict[str, object]:
    return {
        "b_endpoint": claimed.endpoint_id,
        "b_key": claimed.ordering_key,
        "b_sequence": claimed.event.outbox_id,
        "b_next": outcome.next_attempt_at,
    }


# The later deliveries of a contact cannot go before its retried one: they become due
# with it rather than being looked at, and passed over, by every claim until then.
_WAIT_BEHIND_RETRY: Final = (
    update(D)
    .where(
        D.c.endpoint_id == bindparam("b_endpoint"),
        D.c.ordering_key == bindparam("b_key"),
        _active(D.c.status),
        D.c.outbox_id > bindparam("b_sequence"),
        D.c.status == DeliveryStatus.PENDING,
        D.c.next_attempt_at < bindparam("b_next", type_=t.When),
    )
    .values(next_attempt_at=bindparam("b_next"))
)
