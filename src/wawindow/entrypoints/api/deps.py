"""Request dependencies: the process's services, the tenant behind an API key, and its
settings (``TenantPolicyDep``: use it wherever a rule depends on them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.bootstrap import Services
from wawindow.domain.policy import Policy
from wawindow.entrypoints.api.problems import Problem
from wawindow.service.tenant_settings import policy_from_settings
from wawindow.service.tenants import KeyOwner, owner_of_key


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
    request: Request,
    svc: ServicesDep,
    x_api_key: Annotated[str | None, Depends(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> str:
    """The tenant of the API key (``X-API-Key``, or ``Authorization: Bearer``)."""
    key = x_api_key or (bearer.credentials.strip() if bearer else None)
    if not key:
        raise _unauthorized("send an API key in X-API-Key or Authorization: Bearer")

    def lookup() -> KeyOwner | None:
        with SqlTenantStore.reading(svc.engine) as store:
            return owner_of_key(store, key)

    found = await run_in_threadpool(lookup)
    if found is None:
        raise _unauthorized("unknown or revoked API key")
    # The settings came with the key: rules that need them cost no second read.
    request.state.tenant_settings = found.settings
    return found.tenant_id


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
