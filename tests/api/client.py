"""A synchronous client for the real app in-process, with two tenants and a frozen clock.

``ApiWorld.open(database_url)`` builds the services the way ``serve`` does
(``build_services`` → ``create_app``), creates the tenants ``mine`` and
``theirs`` with one business line each, and freezes the services' clock at
``now`` (move it by assigning ``world.now``). Requests go through
``httpx.ASGITransport`` under ``asyncio.run`` (no ``fastapi.testclient``: it
warns, and the suite turns warnings into errors). Facts are ingested with the
process's ``Ingestor``, as the webhook route does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.bootstrap import Services, build_services
from wawindow.config import Settings
from wawindow.domain.facts import Fact
from wawindow.entrypoints.api.app import create_app
from wawindow.service.tenants import LineSpec, NewKey, add_line, create_tenant

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LINE, OTHER_LINE = "106540352242922", "999000111"

_bodies = itertools.count(1)


@dataclass
class Tenant:
    id: str
    key: str
    line: str


@dataclass
class ApiWorld:
    services: Services
    app: FastAPI
    mine: Tenant
    theirs: Tenant
    now: datetime = START
    default_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.default_key = self.mine.key
        self.services.clock = lambda: self.now

    @classmethod
    @contextmanager
    def open(cls, database_url: str, now: datetime = START, **settings: Any) -> Iterator[ApiWorld]:
        """``settings``: more ``Settings`` fields, as ``WAWINDOW_*`` variables would set them."""
        services = build_services(Settings(database_url=database_url, **settings))
        try:
            mine = _tenant(services, "acme", LINE, now)
            theirs = _tenant(services, "globex", OTHER_LINE, now)
            yield cls(services, create_app(services), mine, theirs, now)
        finally:
            services.engine.dispose()

    # -- HTTP ------------------------------------------------------------------------

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        return self.request("GET", path, key, params=params)

    def post(self, path: str, body: Any, key: str | None = None) -> httpx.Response:
        return self.request("POST", path, key, json=body)

    def request(
        self, method: str, path: str, key: str | None = None, **options: Any
    ) -> httpx.Response:
        """``key=""`` sends no API key at all; ``headers=`` are sent too."""
        chosen = self.default_key if key is None else key
        headers = {"X-API-Key": chosen} if chosen else {}
        headers.update(options.pop("headers", {}))

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, path, headers=headers, **options)

        return asyncio.run(go())

    # -- facts -----------------------------------------------------------------------

    def ingest(self, *facts: Fact) -> None:
        """Store facts as one webhook body received at ``now`` (every line trusted)."""
        body = f"test-body-{next(_bodies)}".encode()
        with self.services.ingest_store() as store:
            self.services.ingestor.ingest(store, "meta", body, facts, (), self.now)


def _tenant(services: Services, name: str, line: str, at: datetime) -> Tenant:
    with SqlTenantStore(services.engine) as store:
        key: NewKey = create_tenant(store, name, at)
    with SqlTenantStore(services.engine) as store:
        add_line(store, LineSpec(key.tenant_id, line, f"secret-{name}", f"verify-{name}"), at)
    return Tenant(key.tenant_id, key.api_key, line)
