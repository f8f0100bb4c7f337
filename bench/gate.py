"""The send gate's cost: ``python bench/gate.py [--quick]``.

Asks the gate through the whole HTTP stack — ``POST /v1/messages?dry_run=true``
with an API key, the thread's state, the line's templates, the month's count
and the rate card — and compares it, in the same run, with the no-op
``GET /healthz`` of the same app and with ``GET /v1/session-status`` (an
authenticated read of one thread). Requests go in-process (httpx's ASGI
transport, one client, one at a time) to an app on a SQLite file with 500
contacts who wrote in the last hour, so the numbers are the app's, not a
network's.

Writes ``bench/results/gate.json`` and ``bench/results/gate.md``; quote the
ratios, which hold on a noisy machine better than the absolute rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.bootstrap import build_services
from wawindow.config import Settings
from wawindow.domain.facts import InboundMessage
from wawindow.domain.identity import Identity
from wawindow.entrypoints.api.app import create_app
from wawindow.service.tenants import LineSpec, add_line, create_tenant

ROOT = Path(__file__).resolve().parent
LINE = "106540352242922"
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
CONTACTS = 500


def phone(number: int) -> str:
    return f"1650555{number:04d}"


Call = Callable[[httpx.AsyncClient, int], Coroutine[Any, Any, httpx.Response]]


async def rate(client: httpx.AsyncClient, call: Call, count: int) -> float:
    """Requests per second of ``call``, one at a time, after a short warm-up."""
    for number in range(20):
        (await call(client, number)).raise_for_status()
    started = time.perf_counter()
    for number in range(count):
        response = await call(client, number)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text}")
    return count / (time.perf_counter() - started)


def measure(requests: int, workdir: Path) -> dict[str, float]:
    services = build_services(Settings(database_url=f"sqlite:///{workdir / 'bench.db'}"))
    services.clock = lambda: NOW
    with SqlTenantStore(services.engine) as store:
        key = create_tenant(store, "bench", NOW)
    with SqlTenantStore(services.engine) as store:
        add_line(store, LineSpec(key.tenant_id, LINE, "secret", "verify"), NOW)
    for number in range(CONTACTS):
        user = Identity.of(wa_id=phone(number))
        fact = InboundMessage(LINE, f"wamid.in{number}", NOW - timedelta(minutes=30), user, "text")
        with services.ingest_store() as ingest:
            services.ingestor.ingest(ingest, "meta", f"body-{number}".encode(), [fact], (), NOW)
    headers = {"X-API-Key": key.api_key}

    async def dry_run(client: httpx.AsyncClient, number: int) -> httpx.Response:
        body = {"phone_number_id": LINE, "to": phone(number % CONTACTS), "text": "Hi"}
        return await client.post("/v1/messages?dry_run=true", json=body, headers=headers)

    async def healthz(client: httpx.AsyncClient, number: int) -> httpx.Response:
        return await client.get("/healthz")

    async def session(client: httpx.AsyncClient, number: int) -> httpx.Response:
        params = {"phone_number_id": LINE, "contact_phone": phone(number % CONTACTS)}
        return await client.get("/v1/session-status", params=params, headers=headers)

    async def run() -> dict[str, float]:
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            return {
                "dry_run_per_s": await rate(client, dry_run, requests),
                "healthz_per_s": await rate(client, healthz, requests),
                "session_status_per_s": await rate(client, session, requests),
            }

    try:
        return asyncio.run(run())
    finally:
        services.whatsapp.close()
        services.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few requests, for a smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    requests = 200 if args.quick else 2000
    with tempfile.TemporaryDirectory() as workdir:
        rates = measure(requests, Path(workdir))
    result: dict[str, Any] = {
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "requests": requests,
        "contacts": CONTACTS,
        **{name: round(value, 1) for name, value in rates.items()},
        "ratio_healthz_to_dry_run": round(rates["healthz_per_s"] / rates["dry_run_per_s"], 2),
        "ratio_session_status_to_dry_run": round(
            rates["session_status_per_s"] / rates["dry_run_per_s"], 2
        ),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gate.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "gate.md").write_text(render(result))
    sys.stdout.write(render(result))
    return 0


def render(r: dict[str, Any]) -> str:
    return (
        f"# wawindow send gate benchmark ({r['at']}, Python {r['python']})\n\n"
        f"{r['requests']:,} requests each, one at a time, in-process; {r['contacts']} contacts.\n\n"
        "| measure | result |\n|---|---|\n"
        f"| POST /v1/messages?dry_run=true (the gate) | {r['dry_run_per_s']:,.0f} decisions/s |\n"
        f"| GET /healthz (no-op) | {r['healthz_per_s']:,.0f} requests/s |\n"
        f"| GET /v1/session-status | {r['session_status_per_s']:,.0f} requests/s |\n"
        f"| ratio no-op GET / dry run (same run) | {r['ratio_healthz_to_dry_run']} |\n"
        f"| ratio session status / dry run (same run) | {r['ratio_session_status_to_dry_run']} |\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
