"""Tenants, API keys and lines on SQL: one transaction per instance."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, update

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.adapters.db.upserts import insert_ignoring
from wawindow.service.tenants import KeyOwner, LineSpec, LineSummary, TenantSummary

# Built once (and shared with ``session_reader``): every API request asks it, and building
# a statement costs more than running it.
KEY_OWNER = (
    select(t.api_keys.c.tenant_id, t.tenants.c.settings)
    .join(t.tenants, t.tenants.c.id == t.api_keys.c.tenant_id)
    .where(t.api_keys.c.key_hash == bindparam("key_hash"), t.api_keys.c.revoked_at.is_(None))
)


class SqlTenantStore(Transaction):
    def add_tenant(self, tenant_id: str, name: str, at: datetime) -> None:
        self._conn.execute(
            t.tenants.insert().values(id=tenant_id, name=name, settings={}, created_at=at)
        )

    def tenant_exists(self, tenant_id: str) -> bool:
        found = self._conn.execute(select(t.tenants.c.id).where(t.tenants.c.id == tenant_id))
        return found.first() is not None

    def add_key(
        self, key_id: str, tenant_id: str, key_hash: str, prefix: str, at: datetime
    ) -> None:
        self._conn.execute(
            t.api_keys.insert().values(
                id=key_id, tenant_id=tenant_id, key_hash=key_hash, prefix=prefix, created_at=at
            )
        )

    def revoke_key(self, key_id_or_prefix: str, at: datetime) -> bool:
        k = t.api_keys.c
        result = self._conn.execute(
            update(t.api_keys)
            .where(or_(k.id == key_id_or_prefix, k.prefix == key_id_or_prefix))
            .where(k.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(result.rowcount)

    def has_verify_token(self, token: str) -> bool:
        found = self._conn.execute(
            select(t.lines.c.phone_number_id).where(t.lines.c.verify_token == token)
        )
        return found.first() is not None

    def tenant_of_key(self, key_hash: str) -> str | None:
        owner = self.key_owner(key_hash)
        return None if owner is None else owner.tenant_id

    def key_owner(self, key_hash: str) -> KeyOwner | None:
        found = self._conn.execute(KEY_OWNER, {"key_hash": key_hash}).first()
        return None if found is None else key_owner_from_row(found.tenant_id, found.settings)

    def add_line(self, spec: LineSpec, at: datetime) -> bool:
        values = {
            "phone_number_id": spec.phone_number_id,
            "tenant_id": spec.tenant_id,
            "display_phone": spec.display_phone,
            "provider": spec.provider,
            "app_secret": spec.app_secret,
            "verify_token": spec.verify_token,
            "access_token": spec.access_token,
            "graph_base_url": spec.graph_base_url,
            "timezone": spec.timezone,
            "created_at": at,
        }
        return insert_ignoring(self._conn, t.lines, values)

    def tenants(self) -> list[TenantSummary]:
        lines = (
            select(func.count())
            .select_from(t.lines)
            .where(t.lines.c.tenant_id == t.tenants.c.id)
            .scalar_subquery()
        )
        keys = (
            select(func.count())
            .select_from(t.api_keys)
            .where(t.api_keys.c.tenant_id == t.tenants.c.id, t.api_keys.c.revoked_at.is_(None))
            .scalar_subquery()
        )
        rows = self._conn.execute(
            select(t.tenants.c.id, t.tenants.c.name, t.tenants.c.created_at, lines, keys).order_by(
                t.tenants.c.created_at
            )
        )
        return [TenantSummary(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]

    def lines(self, tenant_id: str | None) -> list[LineSummary]:
        c = t.lines.c
        query = select(t.lines).order_by(c.tenant_id, c.phone_number_id)
        if tenant_id is not None:
            query = query.where(c.tenant_id == tenant_id)
        return [
            LineSummary(
                r.phone_number_id,
                r.tenant_id,
                r.display_phone,
                r.provider,
                r.timezone,
                r.account_id,
            )
            for r in self._conn.execute(query)
        ]


def key_owner_from_row(tenant_id: object, settings: object) -> KeyOwner:
    return KeyOwner(str(tenant_id), settings if isinstance(settings, Mapping) else {})
