"""Tenants, their API keys and their business lines.

API keys are shown once and stored as SHA-256 hashes: a key is 32 random bytes,
so a fast hash is enough (there is nothing to brute-force). Secrets of lines
(app secret, verify token, access token) are stored to verify and send, and are
never printed back or logged.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KEY_PREFIX = "ww_"


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    tenant_id: str
    api_key: str  # shown once


@dataclass(frozen=True, slots=True)
class LineSpec:
    tenant_id: str
    phone_number_id: str
    app_secret: str
    verify_token: str
    access_token: str | None = None
    graph_base_url: str | None = None
    display_phone: str | None = None
    provider: str = "meta"
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class TenantSummary:
    id: str
    name: str
    created_at: datetime
    lines: int
    active_keys: int


@dataclass(frozen=True, slots=True)
class LineSummary:
    phone_number_id: str
    tenant_id: str
    display_phone: str | None
    provider: str
    timezone: str
    account_id: str | None


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """The tenant an API key belongs to, with its stored settings (read together: one
    lookup per request)."""

    tenant_id: str
    settings: Mapping[str, Any]


class TenantError(ValueError):
    """A request about tenants, keys or lines that cannot be done (says why)."""


class KeyOwners(Protocol):
    def key_owner(self, key_hash: str) -> KeyOwner | None:
        """The tenant of a live key with this hash, and its settings."""


class TenantStore(KeyOwners, Protocol):
    def add_tenant(self, tenant_id: str, name: str, at: datetime) -> None: ...
    def tenant_exists(self, tenant_id: str) -> bool: ...
    def add_key(
        self, key_id: str, tenant_id: str, key_hash: str, prefix: str, at: datetime
    ) -> None: ...
    def revoke_key(self, key_id_or_prefix: str, at: datetime) -> bool: ...
    def tenant_of_key(self, key_hash: str) -> str | None: ...
    def add_line(self, spec: LineSpec, at: datetime) -> bool: ...
    def tenants(self) -> list[TenantSummary]: ...
    def lines(self, tenant_id: str | None) -> list[LineSummary]: ...
    def commit(self) -> None: ...


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_tenant(store: TenantStore, name: str, at: datetime) -> NewKey:
    if not name.strip():
        raise TenantError("name: a tenant needs a name")
    tenant_id = f"tn_{secrets.token_hex(8)}"
    store.add_tenant(tenant_id, name.strip(), at)
    key = _add_key(store, tenant_id, at)
    store.commit()
    return key


def create_key(store: TenantStore, tenant_id: str, at: datetime) -> NewKey:
    if not store.tenant_exists(tenant_id):
        raise TenantError(f"tenant: no tenant {tenant_id!r}")
    key = _add_key(store, tenant_id, at)
    store.commit()
    return key


def _add_key(store: TenantStore, tenant_id: str, at: datetime) -> NewKey:
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = f"key_{secrets.token_hex(6)}"
    store.add_key(key_id, tenant_id, hash_key(api_key), api_key[:10], at)
    return NewKey(key_id, tenant_id, api_key)


def revoke_key(store: TenantStore, key_id: str, at: datetime) -> None:
    if not store.revoke_key(key_id, at):
        raise TenantError(f"key: no active key {key_id!r}")
    store.commit()


def tenant_of_key(store: TenantStore, api_key: str) -> str | None:
    return store.tenant_of_key(hash_key(api_key))


def owner_of_key(store: KeyOwners, api_key: str) -> KeyOwner | None:
    """The tenant of a live API key, and its settings; ``None`` for unknown or revoked."""
    return store.key_owner(hash_key(api_key))


def add_line(store: TenantStore, spec: LineSpec, at: datetime) -> None:
    if not store.tenant_exists(spec.tenant_id):
        raise TenantError(f"tenant: no tenant {spec.tenant_id!r}")
    if not spec.phone_number_id.strip():
        raise TenantError("phone_number_id: must not be empty")
    for name, value in (("app_secret", spec.app_secret), ("verify_token", spec.verify_token)):
        if not value:
            raise TenantError(f"{name}: must not be empty")
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise TenantError(f"timezone: unknown time zone {spec.timezone!r}") from error
    if not store.add_line(spec, at):
        raise TenantError(f"phone_number_id: line {spec.phone_number_id!r} exists already")
    store.commit()
