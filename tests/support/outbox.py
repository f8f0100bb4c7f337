"""Set up a tenant on a migrated engine, ingest facts, run the scheduler, read the outbox."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.due_store import SqlScheduler
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.domain.facts import Fact
from wawindow.service.ingest import Ingestor, IngestOutcome
from wawindow.service.scheduler import SchedulerJob
from wawindow.service.tenants import LineSpec, add_line, create_tenant
from wawindow.service.timed_events import TIMED_EVENT_TYPES

LINE = "106540352242922"
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
_bodies = itertools.count(1)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    type: str
    key: str
    thread_id: str | None
    occurred_at: datetime
    data: dict[str, Any]


def new_tenant(engine: Engine, name: str = "acme", line: str = LINE) -> str:
    with SqlTenantStore(engine) as store:
        key = create_tenant(store, name, START)
    with SqlTenantStore(engine) as store:
        add_line(store, LineSpec(key.tenant_id, line, f"secret-{name}", f"token-{name}"), START)
    return key.tenant_id


def ingest(
    engine: Engine, *facts: Fact, at: datetime, ingestor: Ingestor | None = None
) -> IngestOutcome:
    """``facts`` as one webhook body received at ``at``."""
    body = f"body-{next(_bodies)}".encode()
    with SqlIngestStore(engine) as store:
        return (ingestor or Ingestor()).ingest(store, "meta", body, facts, (), at)


def tick(engine: Engine, now: datetime, batch: int = 500) -> int:
    return SchedulerJob(SqlScheduler(engine), batch=batch).tick(now)


def drain(engine: Engine, now: datetime, batch: int = 500) -> list[int]:
    """Tick until nothing is due at ``now``; what each tick took."""
    taken = []
    while (done := tick(engine, now, batch)) > 0:
        taken.append(done)
    return taken


def outbox(engine: Engine, *types: str) -> list[OutboxRow]:
    o = t.outbox.c
    query = select(o.id, o.type, o.event_key, o.thread_id, o.occurred_at, o.data).order_by(o.id)
    if types:
        query = query.where(o.type.in_(types))
    with engine.connect() as conn:
        return [OutboxRow(*row) for row in conn.execute(query)]


def timed(engine: Engine) -> list[OutboxRow]:
    return outbox(engine, *TIMED_EVENT_TYPES)


def due_times(engine: Engine) -> list[tuple[str, datetime]]:
    d = t.due_times.c
    with engine.connect() as conn:
        rows = conn.execute(select(d.type, d.due_at).order_by(d.due_at, d.type))
        return [(row.type, row.due_at) for row in rows]
