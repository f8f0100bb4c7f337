"""``wawindow tenant|line|key|migrate``: set up tenants, API keys and business lines."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from wawindow.adapters.db.migrate import current_revision, upgrade
from wawindow.adapters.db.settings_store import SqlSettingsStore
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.bootstrap import Services, build_services, engine_from, utc_now
from wawindow.config import ConfigError, load_settings
from wawindow.domain.durations import DurationError, parse_duration
from wawindow.domain.policy import Policy
from wawindow.service.tenant_settings import (
    SettingsChange,
    SettingsError,
    TenantNotFound,
    change_settings,
    read_settings,
    settings_document,
)
from wawindow.service.tenants import (
    LineSpec,
    NewKey,
    TenantError,
    add_line,
    create_key,
    create_tenant,
    revoke_key,
)

tenant_app = typer.Typer(help="Tenants: the customers of this wawindow.", no_args_is_help=True)
line_app = typer.Typer(help="Business lines (WhatsApp phone numbers).", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def services() -> Services:
    try:
        return build_services()
    except ConfigError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


def _fail(error: TenantError) -> typer.Exit:
    err.print(f"[red]{error}[/red]", highlight=False)
    return typer.Exit(1)


def migrate() -> None:
    """Apply the database migrations (serve does this on start too)."""
    settings = load_settings()
    engine = engine_from(settings)
    upgrade(engine)
    out.print(f"database at revision {current_revision(engine)}")
    engine.dispose()


def _print_key(key: NewKey, as_json: bool, what: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"tenant_id": key.tenant_id, "api_key": key.api_key}) + "\n")
        return
    out.print(f"{what}: tenant [bold]{key.tenant_id}[/bold], key id {key.key_id}")
    out.print(f"API key (shown once, store it now): [bold]{key.api_key}[/bold]", highlight=False)


@tenant_app.command("create")
def tenant_create(
    name: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Create a tenant and its first API key."""
    svc = services()
    try:
        with SqlTenantStore(svc.engine) as store:
            key = create_tenant(store, name, utc_now())
    except TenantError as error:
        raise _fail(error) from error
    _print_key(key, as_json, "created")


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    with SqlTenantStore(services().engine) as store:
        rows = store.tenants()
    table = Table("tenant", "name", "lines", "active keys", "created")
    for row in rows:
        table.add_row(
            row.id, row.name, str(row.lines), str(row.active_keys), row.created_at.isoformat()
        )
    out.print(table)


_OPTION_OF = {
    "inactive_after": "--inactive-after",
    "window_expiring_leads": "--window-expiring-leads",
    "lead_unanswered_warning": "--lead-unanswered-warning",
    "send_margin": "--send-margin",
}


def _duration(value: str | None, option: str) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except DurationError as error:
        raise typer.BadParameter(str(error), param_hint=option) from error


def _leads(value: str | None) -> tuple[timedelta, ...] | None:
    if value is None:
        return None
    if value.strip().lower() in ("", "none"):
        return ()
    option = _OPTION_OF["window_expiring_leads"]
    return tuple(lead for part in value.split(",") if (lead := _duration(part, option)) is not None)


@tenant_app.command("settings")
def tenant_settings(
    tenant: Annotated[str, typer.Argument(help="The tenant id.")],
    inactive_after: Annotated[
        str | None, typer.Option(help="Conversation inactive after (1m to 24h), e.g. 30m.")
    ] = None,
    window_expiring_leads: Annotated[
        str | None,
        typer.Option(help="window.expiring lead times, comma-separated (e.g. 60m,15m), or none."),
    ] = None,
    lead_unanswered_warning: Annotated[
        str | None, typer.Option(help="lead.unanswered_soon this long before (1m to <24h).")
    ] = None,
    send_margin: Annotated[
        str | None, typer.Option(help="Free-form only if the window is open this long after.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a tenant's settings, or change those given (durations: 30m, 2h, 90s or PT30M).

    A change re-plans the tenant's pending timed events (conversation.inactive,
    window.expiring, lead.unanswered_soon)."""
    change = SettingsChange(
        inactive_after=_duration(inactive_after, _OPTION_OF["inactive_after"]),
        window_expiring_leads=_leads(window_expiring_leads),
        lead_unanswered_warning=_duration(
            lead_unanswered_warning, _OPTION_OF["lead_unanswered_warning"]
        ),
        send_margin=_duration(send_margin, _OPTION_OF["send_margin"]),
    )
    engine = services().engine
    replanned: int | None = None
    try:
        with SqlSettingsStore(engine) as store:
            if change == SettingsChange():
                policy = read_settings(store, tenant)
            else:
                changed = change_settings(store, tenant, change, utc_now())
                policy, replanned = changed.settings, changed.replanned
    except TenantNotFound as error:
        err.print(f"[red]tenant: no tenant {tenant!r}[/red]", highlight=False)
        raise typer.Exit(1) from error
    except SettingsError as error:
        for name, message in error.problems:
            option = _OPTION_OF.get(name.split(".")[0], name)
            err.print(f"[red]{option}: {message}[/red]", highlight=False)
        raise typer.Exit(1) from error
    _print_settings(tenant, policy, replanned, as_json)


def _print_settings(tenant: str, policy: Policy, replanned: int | None, as_json: bool) -> None:
    document = settings_document(policy)
    if as_json:
        sys.stdout.write(json.dumps({"tenant_id": tenant, **document}) + "\n")
        return
    table = Table("setting", "value")
    for name, value in document.items():
        table.add_row(name, ", ".join(value) if isinstance(value, list) else value)
    out.print(table)
    if replanned is not None:
        out.print(f"settings saved; {replanned} pending due times re-planned")


@line_app.command("add")
def line_add(
    tenant: Annotated[str, typer.Option(help="The tenant id.")],
    phone_number_id: Annotated[str, typer.Option(help="Meta's phone_number_id.")],
    app_secret: Annotated[str, typer.Option(help="The Meta app secret (signs webhooks).")],
    verify_token: Annotated[str, typer.Option(help="The webhook verify token.")],
    access_token: Annotated[str | None, typer.Option(help="Graph API access token.")] = None,
    graph_base_url: Annotated[str | None, typer.Option(help="Graph API base URL.")] = None,
    display_phone: Annotated[str | None, typer.Option(help="The number people see.")] = None,
    provider: Annotated[str, typer.Option(help="meta, sinch or channel360.")] = "meta",
    timezone: Annotated[str, typer.Option(help="IANA zone for eras and months.")] = "UTC",
) -> None:
    """Add a business line to a tenant. Secrets are stored, never printed back."""
    spec = LineSpec(
        tenant,
        phone_number_id,
        app_secret,
        verify_token,
        access_token,
        graph_base_url,
        display_phone,
        provider,
        timezone,
    )
    try:
        with SqlTenantStore(services().engine) as store:
            add_line(store, spec, utc_now())
    except TenantError as error:
        raise _fail(error) from error
    out.print(f"line {phone_number_id} added to tenant {tenant}")


@line_app.command("list")
def line_list(tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None) -> None:
    """List business lines (without their secrets)."""
    with SqlTenantStore(services().engine) as store:
        rows = store.lines(tenant)
    table = Table("phone_number_id", "tenant", "display phone", "provider", "time zone", "account")
    for row in rows:
        table.add_row(
            row.phone_number_id,
            row.tenant_id,
            row.display_phone or "",
            row.provider,
            row.timezone,
            row.account_id or "",
        )
    out.print(table)


@key_app.command("create")
def key_create(
    tenant: Annotated[str, typer.Option(help="The tenant id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create another API key for a tenant."""
    try:
        with SqlTenantStore(services().engine) as store:
            key = create_key(store, tenant, utc_now())
    except TenantError as error:
        raise _fail(error) from error
    _print_key(key, as_json, "key created")


@key_app.command("revoke")
def key_revoke(key_id: Annotated[str, typer.Argument(help="The key id (or its prefix).")]) -> None:
    """Revoke an API key: it stops working at once."""
    try:
        with SqlTenantStore(services().engine) as store:
            revoke_key(store, key_id, utc_now())
    except TenantError as error:
        raise _fail(error) from error
    out.print(f"key {key_id} revoked")
