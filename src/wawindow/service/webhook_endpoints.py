"""A tenant's webhook endpoints: subscribe, change, rotate the secret, enable, test.

Secrets are Standard Webhooks secrets: ``whsec_`` and 32 random bytes in base64.
A secret is shown when it is made (creation, rotation) and never again. After a
rotation the old secret keeps signing, next to the new one, for
``ROTATION_OVERLAP``: a receiver can switch over without losing a delivery
(Standard Webhooks receivers accept a request if any of its signatures is valid).

Another tenant's endpoint is ``EndpointNotFound``, as one that does not exist.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from wawindow.domain.event_catalogue import PING, tenant_name
from wawindow.domain.event_patterns import InvalidPattern, normalise_patterns
from wawindow.service.webhook_fanout import delivery_for
from wawindow.service.webhook_ports import (
    DeliveryRecord,
    Endpoint,
    OutboxEvent,
    SigningSecrets,
    WebhookStore,
)

SECRET_PREFIX: Final = "whsec_"
SECRET_BYTES: Final = 32
ROTATION_OVERLAP: Final = timedelta(hours=24)
MAX_URL_LENGTH: Final = 2048
DISABLED_BY_OWNER: Final = "disabled by its owner"


class WebhookError(ValueError):
    """A request about webhooks that cannot be done; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EndpointNotFound(WebhookError):
    pass


class DeliveryNotFound(WebhookError):
    pass


class InvalidEndpoint(WebhookError):
    pass


class WebhookConflict(WebhookError):
    """The object is in a state that does not allow this now (disabled, in flight)."""


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    url: str
    events: Sequence[str]
    description: str = ""


@dataclass(frozen=True, slots=True)
class EndpointEdit:
    """What to change; ``None`` leaves a field as it is."""

    url: str | None = None
    events: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    endpoint: Endpoint
    secret: str  # shown once


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_url(url: str, field: str = "body.url") -> str:
    """An absolute http(s) URL with a host; raises ``InvalidEndpoint``."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidEndpoint(f"at most {MAX_URL_LENGTH} characters", field)
    if url != url.strip() or any(c.isspace() for c in url):
        raise InvalidEndpoint("a URL has no spaces", field)
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as error:
        raise InvalidEndpoint(f"not a URL: {error}", field) from error
    if parts.scheme not in ("http", "https"):
        raise InvalidEndpoint("the URL must start with https:// or http://", field)
    if not parts.hostname or not port_ok:
        raise InvalidEndpoint("the URL must name a host (and a valid port, if any)", field)
    try:
        parts.hostname.encode("idna")
    except UnicodeError as error:
        raise InvalidEndpoint(f"not a valid host name: {parts.hostname!r}", field) from error
    return url


def check_events(events: Sequence[str], field: str = "body.events") -> tuple[str, ...]:
    try:
        return normalise_patterns(events)
    except InvalidPattern as error:
        where = field if error.index is None else f"{field}.{error.index}"
        raise InvalidEndpoint(error.reason, where) from error


def create_endpoint(
    store: WebhookStore, tenant_id: str, spec: EndpointSpec, at: datetime
) -> EndpointWithSecret:
    endpoint = Endpoint(
        id=f"ep_{uuid.uuid4().hex}",
        tenant_id=tenant_id,
        url=check_url(spec.url),
        events=check_events(spec.events),
        description=spec.description,
        enabled=True,
        created_at=at,
        updated_at=at,
    )
    secret = new_secret()
    store.add_endpoint(endpoint, secret)
    store.commit()
    return EndpointWithSecret(endpoint, secret)


def get_endpoint(
    store: WebhookStore, tenant_id: str, endpoint_id: str, field: str = "path.endpoint_id"
) -> Endpoint:
    found = store.endpoint(tenant_id, endpoint_id)
    if found is None:
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id!r}", field)
    return found


def update_endpoint(
    store: WebhookStore, tenant_id: str, endpoint_id: str, edit: EndpointEdit, at: datetime
) -> Endpoint:
    endpoint = get_endpoint(store, tenant_id, endpoint_id)
    changed = replace(
        endpoint,
        url=endpoint.url if edit.url is None else check_url(edit.url),
        events=endpoint.events if edit.events is None else check_events(edit.events),
        description=endpoint.description if edit.description is None else edit.description,
        updated_at=at,
    )
    if edit.enabled is True and not endpoint.enabled:
        changed = _enabled(changed)
    elif edit.enabled is False and endpoint.enabled:
        changed = replace(changed, enabled=False, disabled_at=at, disabled_reason=DISABLED_BY_OWNER)
        store.fail_pending(endpoint.id, DISABLED_BY_OWNER, at)
    store.save_endpoint(changed)
    store.commit()
    return changed


def delete_endpoint(store: WebhookStore, tenant_id: str, endpoint_id: str) -> None:
    endpoint = get_endpoint(store, tenant_id, endpoint_id)
    store.delete_endpoint(endpoint.id)
    store.commit()


def rotate_secret(
    store: WebhookStore, tenant_id: str, endpoint_id: str, at: datetime
) -> EndpointWithSecret:
    """A new secret; the old one also signs for ``ROTATION_OVERLAP``."""
    endpoint = replace(get_endpoint(store, tenant_id, endpoint_id), updated_at=at)
    secret = new_secret()
    old = store.secrets(endpoint.id)
    store.set_secrets(endpoint.id, SigningSecrets(secret, old.current, at + ROTATION_OVERLAP), at)
    store.save_endpoint(endpoint)
    store.commit()
    return EndpointWithSecret(endpoint, secret)


def enable_endpoint(
    store: WebhookStore,
    tenant_id: str,
    endpoint_id: str,
    redeliver_since: datetime | None,
    at: datetime,
) -> tuple[Endpoint, int]:
    """Enable; with ``redeliver_since``, a new round for the deliveries failed since then."""
    endpoint = get_endpoint(store, tenant_id, endpoint_id)
    enabled = _enabled(replace(endpoint, updated_at=at))
    store.save_endpoint(enabled)
    requeued = 0
    if redeliver_since is not None:
        requeued = store.requeue_failed(endpoint.id, redeliver_since, at)
    store.commit()
    return enabled, requeued


def send_test(
    store: WebhookStore, tenant_id: str, endpoint_id: str, at: datetime
) -> DeliveryRecord:
    """A ``whatsapp.ping`` event for this endpoint only, delivered like any other."""
    endpoint = get_endpoint(store, tenant_id, endpoint_id)
    if not endpoint.enabled:
        raise WebhookConflict("the endpoint is disabled: enable it first", "path.endpoint_id")
    message = f"{tenant_name(PING)} from wawindow"
    data = {"subject": endpoint.id, "endpoint_id": endpoint.id, "message": message}
    event = OutboxEvent(0, tenant_id, PING, f"ping:{uuid.uuid4().hex}", at, data)
    event = replace(event, outbox_id=store.add_event(event))
    delivery = delivery_for(event, endpoint, at)
    store.add_delivery(delivery)
    found = store.delivery(tenant_id, delivery.id)
    assert found is not None  # written just now, in this transaction
    store.commit()
    return found


def _enabled(endpoint: Endpoint) -> Endpoint:
    return replace(
        endpoint, enabled=True, disabled_at=None, disabled_reason=None, failing_since=None
    )
