"""Request dependencies: the process's services, the tenant behind an API key, and its
settings (``TenantPolicyDep``: use it wherever a rule depends on them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.clock import SandboxClock
from wawindow.adapters.db.session_reader import SqlSessionReader
from wawindow.bootstrap import Services
from wawindow.domain.policy import Policy
from wawindow.entrypoints.api.problems import Problem
from wawindow.service.tenant_settings import policy_from_settings
from wawindow.service.tenants import KeyOwner, owner_of_key


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def services(request: Request) -> Services:
    # ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in a
    # worker thread, a trip that costs more than this whole function.
    return services_of(request)


ServicesDep = Annotated[Services, Depends(services)]

T = TypeVar("T")

# Declared as security schemes (not plain headers) so the OpenAPI document says how
# to authenticate; ``auto_error=False`` leaves the 401 to ``tenant_id``, as a problem.
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", scheme_name="ApiKey", auto_error=False, description="The tenant's API key."
)
BEARER = HTTPBearer(
    scheme_name="Bearer", auto_error=False, description="The tenant's API key as a bearer token."
)


async def api_key(
    x_api_key: Annotated[str | None, Depends(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> str:
    """The API key sent (``X-API-Key``, or ``Authorization: Bearer``), not yet checked."""
    return _sent_key(x_api_key, bearer.credentials if bearer else None)


def api_key_of(request: Request) -> str:
    """``api_key`` for a handler that reads the request itself (``direct_route``)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    bearer = credentials if scheme.lower() == "bearer" else None
    return _sent_key(request.headers.get("x-api-key"), bearer)


def _sent_key(x_api_key: str | None, bearer: str | None) -> str:
    key = x_api_key or (bearer.strip() if bearer else None)
    if not key:
        raise _unauthorized("send an API key in X-API-Key or Authorization: Bearer")
    return key


ApiKeyDep = Annotated[str, Depends(api_key)]


async def bounded_read(svc: Services, read: Callable[[], T]) -> T:
    """Run ``read``, a handful of indexed lookups (no scan, no write), for a request.

    On SQLite it runs right here, on the event loop: such a read is CPU work on pages
    in memory, and a reader in WAL mode does not wait for writers, while a trip to a
    worker thread costs as much as the read itself (about 90 µs). On PostgreSQL the
    read waits for the network, so it goes to a worker thread; so does every read
    when the process follows a sandbox's clock (``WAWINDOW_CLOCK_URL``, demos and
    end-to-end tests), which is read over HTTP now and then.
    """
    if svc.engine.dialect.name == "sqlite" and not isinstance(svc.clock, SandboxClock):
        return read()
    return await run_in_threadpool(read)


async def tenant_id(request: Request, svc: ServicesDep, key: ApiKeyDep) -> str:
    """The tenant of the API key."""

    def lookup() -> KeyOwner | None:
        with SqlSessionReader(svc.engine) as reader:
            return owner_of_key(reader, key)

    found = await bounded_read(svc, lookup)
    if found is None:
        raise unknown_key()
    # The settings came with the key: rules that need them cost no second read.
    request.state.tenant_settings = found.settings
    return found.tenant_id


def unknown_key() -> Problem:
    return _unauthorized("unknown or revoked API key")


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}
    )


TenantDep = Annotated[str, Depends(tenant_id)]


async def tenant_policy(request: Request, tenant: TenantDep) -> Policy:
    """The tenant's settings (inactive_after, send_margin, ...) as the rules take them,
    as read with the API key."""
    return policy_from_settings(request.state.tenant_settings)


TenantPolicyDep = Annotated[Policy, Depends(tenant_policy)]
