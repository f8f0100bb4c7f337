"""The demo tenant, its line, an API key, the demo templates and the example rate card.

Made through the service layer, before serve starts. On a rerun with the same
database the tenant (found by its name) and its line are used again: the line keeps
the app secret and access token it was made with, so the sandbox is started with
those. API keys are stored hashed, so every run makes a new key (the earlier ones
keep working).

The line's Graph base URL is the sandbox's address, stored with the line. A rerun
must therefore start the sandbox on the same port (``sandbox_port_of``), or use
another database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.adapters.db.send_store import SqlSendStores
from wawindow.adapters.db.template_store import SqlTemplateStore
from wawindow.adapters.rate_card_files import example_rate_card
from wawindow.bootstrap import Services, build_services, utc_now
from wawindow.config import Settings
from wawindow.service.billing import replace_rate_card
from wawindow.service.sending import SendLine
from wawindow.service.templates_registry import import_templates, parse_listing
from wawindow.service.tenants import LineSpec, add_line, create_key, create_tenant

TENANT_NAME: Final = "wawindow demo"
LINE: Final = "106540352242922"
DISPLAY_PHONE: Final = "+1 555 078 3881"  # the sandbox's default display number
TEMPLATE_LANGUAGE: Final = "en_US"

TEMPLATES: Final[dict[str, Any]] = {
    "data": [
        {
            "name": "order_update",
            "language": TEMPLATE_LANGUAGE,
            "status": "APPROVED",
            "category": "UTILITY",
            "id": "900000000000001",
            "components": [
                {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped."},
            ],
        },
        {
            "name": "back_in_stock",
            "language": TEMPLATE_LANGUAGE,
            "status": "APPROVED",
            "category": "MARKETING",
            "id": "900000000000002",
            "components": [
                {"type": "BODY", "text": "Hi {{1}}, the {{2}} you asked about is back in stock."},
                {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Reserve it"}]},
            ],
        },
    ]
}
"""The demo's templates, as WhatsApp lists them: loaded into wawindow and the sandbox."""


class AccountError(RuntimeError):
    """The database cannot host the demo as asked (the message says what to do)."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    tenant_id: str
    api_key: str  # new on every run
    phone_number_id: str
    app_secret: str
    access_token: str
    reused: bool  # the tenant was there from an earlier run


def open_services(database_url: str) -> Services:
    """The services on ``database_url``, migrated."""
    return build_services(Settings(database_url=database_url), migrate=True)


def demo_line(svc: Services) -> SendLine | None:
    """The demo line as an earlier run left it, or ``None`` on a fresh database."""
    tenant_id = _demo_tenant(svc)
    if tenant_id is None:
        return None
    with SqlSendStores(svc.engine).reader() as store:
        return store.send_line(tenant_id, LINE)


def sandbox_port_of(line: SendLine) -> int | None:
    """The port of the sandbox the line sends to."""
    return urlsplit(line.graph_base_url or "").port


def prepare_account(svc: Services, sandbox_url: str) -> DemoAccount:
    """Make the demo tenant, line, key, templates and rate card, or find them again."""
    earlier = demo_line(svc)
    if earlier is not None and earlier.graph_base_url != sandbox_url:
        raise AccountError(
            f"the demo line of this database sends to the sandbox at {earlier.graph_base_url}: "
            f"start the demo with --sandbox-port {sandbox_port_of(earlier)}, or use a new "
            "--database"
        )
    now = utc_now()
    tenant_id = _demo_tenant(svc)
    with svc.tenant_store() as store:
        if tenant_id is None:
            key = create_tenant(store, TENANT_NAME, now)
        else:
            key = create_key(store, tenant_id, now)
    if tenant_id is None:
        with SqlRateStore(svc.engine) as rates:
            replace_rate_card(rates, key.tenant_id, example_rate_card())
    line = earlier or _add_line(svc, key.tenant_id, sandbox_url)
    if not line.access_token:
        raise AccountError(f"the demo line {LINE} has no access token: use a new --database")
    templates, _ = parse_listing(TEMPLATES)
    with SqlTemplateStore(svc.engine) as registry:
        import_templates(registry, LINE, templates, now)
    return DemoAccount(
        tenant_id=key.tenant_id,
        api_key=key.api_key,
        phone_number_id=LINE,
        app_secret=line.info.app_secret,
        access_token=line.access_token,
        reused=tenant_id is not None,
    )


def _demo_tenant(svc: Services) -> str | None:
    with svc.tenant_store() as store:
        found = [tenant.id for tenant in store.tenants() if tenant.name == TENANT_NAME]
    return found[0] if found else None


def _add_line(svc: Services, tenant_id: str, sandbox_url: str) -> SendLine:
    """The demo line, with new secrets, sending to the sandbox."""
    with svc.tenant_store() as store:
        owners = {row.tenant_id for row in store.lines(None) if row.phone_number_id == LINE}
        if owners:
            raise AccountError(
                f"line {LINE} belongs to another tenant of this database: "
                "run the demo on a database of its own (--database)"
            )
        spec = LineSpec(
            tenant_id,
            LINE,
            app_secret=secrets.token_urlsafe(24),
            verify_token=secrets.token_urlsafe(16),
            access_token=f"demo-{secrets.token_urlsafe(24)}",
            graph_base_url=sandbox_url,
            display_phone=DISPLAY_PHONE,
        )
        add_line(store, spec, utc_now())
    with SqlSendStores(svc.engine).reader() as reader:
        added = reader.send_line(tenant_id, LINE)
    assert added is not None  # just committed
    return added
