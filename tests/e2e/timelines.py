"""Webhook bodies for the end-to-end tests, built like WhatsApp sends them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.scenario import inbound, status

SHARED = Path(__file__).resolve().parents[3] / "shared"
PYWA_FIXTURES = SHARED / "fixtures" / "meta-webhooks" / "pywa"

FREE_SERVICE = {
    "billable": False,
    "pricing_model": "PMP",
    "category": "service",
    "type": "free_customer_service",
}
MARKETING = {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"}
UTILITY_FREE = {
    "billable": False,
    "pricing_model": "PMP",
    "category": "utility",
    "type": "free_customer_service",
}
RE_ENGAGEMENT = {
    "code": 131047,
    "title": "Re-engagement message",
    "message": "Re-engagement message",
    "error_data": {
        "details": "Message failed to send because more than 24 hours have passed since "
        "the customer last replied to this number."
    },
}
UNDELIVERABLE = {
    "code": 131026,
    "title": "Message undeliverable",
    "message": "Message undeliverable",
    "error_data": {"details": "Message Undeliverable."},
}


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def iso(at: datetime) -> str:
    """The ISO text the scenario builders take (UTC, seconds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def fixture_bodies() -> list[tuple[str, bytes]]:
    """Every body of ``../shared/fixtures/meta-webhooks/pywa/*.json`` as ``(file:case, bytes)``."""
    found = []
    for path in sorted(PYWA_FIXTURES.glob("*.json")):
        for case, body in json.loads(path.read_text()).items():
            found.append((f"{path.stem}:{case}", encode(body)))
    return found


def phone_number_ids(raw: bytes) -> set[str]:
    body = json.loads(raw)
    found = set()
    for entry in body.get("entry") or []:
        for change in entry.get("changes") or []:
            metadata = (change.get("value") or {}).get("metadata") or {}
            if metadata.get("phone_number_id"):
                found.add(str(metadata["phone_number_id"]))
    return found


def entry_ids(raw: bytes) -> set[str]:
    return {str(entry["id"]) for entry in json.loads(raw).get("entry") or [] if "id" in entry}


def three_users_timeline(at: datetime) -> list[bytes]:
    """~30 bodies for three users: one a month ago, one hours ago, one minutes ago.

    Inbound messages, replies with sent/delivered/read statuses and PMP pricing, a
    marketing template after the window closed, a failed 131047, a failed 131026,
    a body that batches statuses of two users, and two bodies that repeat facts of
    earlier ones in other bytes (as a reseller re-sending a report would).
    No conversation boundary (30 minutes of silence, 24 hours) falls within minutes
    of ``at``, so the status the API computes does not change during a test.
    """
    u1, u2, u3 = "447700900001", "5511999990002", "15550100003"
    t1 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    t2 = at - timedelta(hours=3)
    t3 = at - timedelta(minutes=10)

    def m(base: datetime, minutes: float) -> str:
        return iso(base + timedelta(minutes=minutes))

    bodies = [
        inbound(m(t1, 0), "wamid.u1.in1", u1, name="Ana"),
        status(m(t1, 5), "wamid.u1.out1", "sent", u1, pricing=FREE_SERVICE),
        status(m(t1, 5.05), "wamid.u1.out1", "delivered", u1, pricing=FREE_SERVICE),
        status(m(t1, 7), "wamid.u1.out1", "read", u1, pricing=FREE_SERVICE),
        inbound(m(t1, 20), "wamid.u1.in2", u1, name="Ana", type_="image"),
        status(m(t1, 30), "wamid.u1.out2", "sent", u1, pricing=FREE_SERVICE),
        status(m(t1, 30.1), "wamid.u1.out2", "delivered", u1, pricing=FREE_SERVICE),
        status(m(t1, 45), "wamid.u1.out2", "read", u1, pricing=FREE_SERVICE),
        status(m(t1, 2 * 1440), "wamid.u1.out3", "sent", u1, pricing=MARKETING),
        status(m(t1, 2 * 1440 + 0.1), "wamid.u1.out3", "delivered", u1, pricing=MARKETING),
        status(m(t1, 2 * 1440 + 60), "wamid.u1.out3", "read", u1, pricing=MARKETING),
        status(m(t1, 3 * 1440), "wamid.u1.out4", "failed", u1, errors=[RE_ENGAGEMENT]),
        inbound(m(t2, 0), "wamid.u2.in1", u2, name="Bruno"),
        status(m(t2, 2), "wamid.u2.out1", "sent", u2, pricing=FREE_SERVICE),
        status(m(t2, 2.05), "wamid.u2.out1", "delivered", u2, pricing=FREE_SERVICE),
        status(m(t2, 4), "wamid.u2.out1", "read", u2, pricing=FREE_SERVICE),
        inbound(m(t2, 60), "wamid.u2.in2", u2, name="Bruno"),
        status(m(t2, 65), "wamid.u2.out2", "sent", u2, pricing=UTILITY_FREE),
        status(m(t2, 65.1), "wamid.u2.out2", "delivered", u2, pricing=UTILITY_FREE),
        status(m(t2, 70), "wamid.u2.out3", "failed", u2, errors=[UNDELIVERABLE]),
        inbound(m(t3, 0), "wamid.u3.in1", u3, name="Chen"),
        status(m(t3, 1), "wamid.u3.out1", "sent", u3, pricing=FREE_SERVICE),
        status(m(t3, 1.05), "wamid.u3.out1", "delivered", u3, pricing=FREE_SERVICE),
        status(m(t3, 3), "wamid.u3.out1", "read", u3, pricing=FREE_SERVICE),
        inbound(m(t3, 5), "wamid.u3.in2", u3, name="Chen"),
        status(m(t3, 6), "wamid.u3.out2", "sent", u3, pricing=FREE_SERVICE),
    ]
    # One body batching statuses of two users (u2's read, u3's delivered).
    batch = status(m(t2, 80), "wamid.u2.out2", "read", u2, pricing=UTILITY_FREE)
    other = status(m(t3, 6.1), "wamid.u3.out2", "delivered", u3, pricing=FREE_SERVICE)
    batch["entry"][0]["changes"][0]["value"]["statuses"].extend(
        other["entry"][0]["changes"][0]["value"]["statuses"]
    )
    raw = [encode(body) for body in bodies] + [encode(batch)]
    # The same facts again in other bytes: must be stored once.
    raw.append(json.dumps(bodies[2], indent=1).encode())
    raw.append(json.dumps(bodies[20], sort_keys=True).encode())
    return raw
