"""Tenant settings on SQL (``tenants.settings``), and the re-planning of due times they cause."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.due_store import SqlDueEvents, lock_tenant
from wawindow.domain.deadlines import Deadline
from wawindow.domain.policy import Policy
from wawindow.service.tenant_settings import policy_from_settings
from wawindow.service.timed_events import DueRow


def read_tenant_settings(conn: Connection, tenant_id: str) -> Mapping[str, Any] | None:
    """The tenant's stored settings document; ``None`` when there is no such tenant."""
    c = t.tenants.c
    row = conn.execute(select(c.settings).where(c.id == tenant_id)).first()
    if row is None:
        return None
    return row.settings if isinstance(row.settings, Mapping) else {}


class SqlSettingsStore(SqlDueEvents):
    def lock_tenant(self, tenant_id: str) -> None:
        lock_tenant(self._conn, tenant_id)

    def tenant_settings(self, tenant_id: str) -> Mapping[str, Any] | None:
        return read_tenant_settings(self._conn, tenant_id)

    def tenant_policy(self, tenant_id: str) -> Policy:
        """The tenant's settings (the defaults for a tenant that changed none)."""
        return policy_from_settings(self.tenant_settings(tenant_id))

    def save_tenant_settings(self, tenant_id: str, document: Mapping[str, Any]) -> None:
        self._conn.execute(
            update(t.tenants).where(t.tenants.c.id == tenant_id).values(settings=dict(document))
        )

    def pending_due(self, tenant_id: str, types: Sequence[str], after: datetime) -> list[DueRow]:
        # One pass over the tenant's pending due times; settings change rarely.
        d = t.due_times.c
        rows = self._conn.execute(
            select(d.tenant_id, d.thread_id, d.type, d.subject, d.due_at).where(
                d.tenant_id == tenant_id, d.type.in_(list(types)), d.due_at > after
            )
        )
        return [
            DueRow(row.tenant_id, row.thread_id, Deadline(row.due_at, row.type, row.subject))
            for row in rows
        ]

    def change_due(self, cancel: Sequence[DueRow], add: Sequence[DueRow]) -> None:
        self.remove_due(cancel)
        self.add_due(add)
