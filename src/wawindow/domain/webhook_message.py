"""The body of an event sent to a tenant's endpoint (DESIGN 2.4).

``{"type": "whatsapp.…", "id", "created_at", "tenant_id", "data": {...}}``. The
event id is derived from the tenant and the event's key, so it is the same for
every endpoint and every attempt; the Standard Webhooks ``webhook-id`` header is
per (event, endpoint) and is the delivery's id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from wawindow.domain.event_catalogue import tenant_name
from wawindow.domain.times import iso_z


def event_id(tenant_id: str, event_key: str) -> str:
    """A stable id for an event: the same inputs always give the same id."""
    digest = hashlib.sha256(f"{tenant_id}\n{event_key}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def event_body(
    event_type: str,
    event_key: str,
    tenant_id: str,
    created_at: datetime,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON object sent for an event of internal type ``event_type``."""
    return {
        "type": tenant_name(event_type),
        "id": event_id(tenant_id, event_key),
        "created_at": iso_z(created_at),
        "tenant_id": tenant_id,
        "data": dict(data),
    }
