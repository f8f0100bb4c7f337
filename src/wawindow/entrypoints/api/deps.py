"""Request dependencies: the process's services, the tenant behind an API key, and its
settings (``TenantPolicyDep``: use it wherever a rule depends on them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.settings_store import SqlSettingsStore
from wawindow.bootstrap import Services
from wawindow.domain.policy import Policy
from wawindow.entrypoints.api.problems import Problem
from wawindow.service.tenants import tenant_of_key


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]

# Declared as security schemes (not plain headers) so the OpenAPI document says how
# to authenticate; ``auto_error=False`` leaves the 401 to ``tenant_id``, as a problem.
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", scheme_name="ApiKey", auto_error=False, description="The tenant's API key."
)
BEARER = HTTPBearer(
    scheme_name="Bearer", auto_error=False, description="The tenant's API key as a bearer token."
)


async def tenant_id(
    svc: ServicesDep,
    x_api_key: Annotated[str | None, Depends(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> str:
    """The tenant of the API key (``X-API-Key``, or ``Authorization: Bearer``)."""
    key = x_api_key or (bearer.credentials.strip() if bearer else None)
    if not key:
        raise _unauthorized("send an API key in X-API-Key or Authorization: Bearer")

    def lookup() -> str | None:
        with svc.tenant_store() as store:
            return tenant_of_key(store, key)

    found = await run_in_threadpool(lookup)
    if found is None:
        raise _unauthorized("unknown or revoked API key")
    return found


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}
    )


TenantDep = Annotated[str, Depends(tenant_id)]


async def tenant_policy(svc: ServicesDep, tenant: TenantDep) -> Policy:
    """The tenant's settings (inactive_after, send_margin, ...) as the rules take them."""

    def read() -> Policy:
        with SqlSettingsStore.reading(svc.engine) as store:
            return store.tenant_policy(tenant)

    return await run_in_threadpool(read)


TenantPolicyDep = Annotated[Policy, Depends(tenant_policy)]
