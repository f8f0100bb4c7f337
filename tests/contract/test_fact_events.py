"""Fact-driven events written with their facts: contact.merged, window.drift, billing.drift,
template.updated. Webhook bodies as WhatsApp posts them, through the real parser and ingest;
each event once, also when the same facts come again or a late fact folds them again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.support.outbox import new_tenant, outbox
from tests.support.scenario import LINE, inbound, outbound, status
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.meta.payload import parse_webhook
from wawindow.adapters.ndjson_log import LineError, read_log
from wawindow.domain.times import parse_iso
from wawindow.service.ingest import Ingestor

WABA = "WABA1"  # the account the scenario bodies name


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    new_tenant(engine)
    yield engine
    engine.dispose()


def receive(engine: Engine, document: dict[str, Any], *, spaced: bool = False) -> None:
    """One body, as the webhook route (or ``import`` for a send record) takes it in.
    ``spaced``: the same content in other bytes, as a resent or re-encoded body would be."""
    raw = json.dumps(document, indent=1 if spaced else None).encode()
    if document.get("kind") == "outbound":
        (item,) = read_log([raw])
        assert not isinstance(item, LineError)
        facts, accounts = item.facts, ()
    else:
        parsed = parse_webhook(raw)
        facts, accounts = parsed.facts, parsed.accounts
    with SqlIngestStore(engine) as store:
        Ingestor().ingest(store, "meta", raw, facts, accounts, parse_iso("2026-03-20T00:00:00Z"))


def events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    return [row.data for row in outbox(engine, kind)]


def test_a_payload_naming_two_contacts_merges_them_once(engine: Engine) -> None:
    receive(engine, inbound("2026-03-10T09:00", "wamid.a", None, user_id="US.1349"))
    receive(engine, inbound("2026-03-10T09:05", "wamid.b", "16505551234"))
    both = inbound("2026-03-10T09:10", "wamid.c", "16505551234", user_id="US.1349")

    receive(engine, both)
    receive(engine, both, spaced=True)  # Meta's retry, in other bytes

    (merged,) = events(engine, "contact.merged")
    assert merged["phone_number_id"] == LINE
    assert merged["contact_id"] != merged["absorbed_contact_id"]
    survivor, absorbed = merged["contact_id"], merged["absorbed_contact_id"]
    received = events(engine, "message.received")
    assert {e["contact_id"] for e in received} == {survivor, absorbed}
    assert received[-1]["contact_id"] == survivor


def test_a_131047_for_a_send_inside_the_computed_window_is_a_window_drift(
    engine: Engine,
) -> None:
    receive(engine, inbound("2026-03-10T09:00", "wamid.in"))
    receive(engine, outbound("2026-03-10T10:00", "wamid.out"))
    failed = status(
        "2026-03-10T10:00:05",
        "wamid.out",
        "failed",
        errors=[{"code": 131047, "title": "Re-engagement message"}],
    )
    receive(engine, failed)
    receive(engine, failed, spaced=True)
    # a late, earlier status of the same message makes the thread fold again from there
    receive(engine, status("2026-03-10T10:00:01", "wamid.out", "sent"))

    (drift,) = events(engine, "window.drift")
    assert drift["subject"] == "wamid.out"
    assert (drift["computed"], drift["provider"]) == ("open", "closed")
    assert drift["phone_number_id"] == LINE


def test_a_provider_price_that_disagrees_with_the_estimate_is_a_billing_drift(
    engine: Engine,
) -> None:
    # March 2026 (PMP-1): a utility template inside the service window is free.
    receive(engine, inbound("2026-03-10T09:00", "wamid.in"))
    receive(
        engine,
        outbound("2026-03-10T09:30", "wamid.util", template="order_update", category="utility"),
    )
    regular = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}
    delivered = status("2026-03-10T09:30:05", "wamid.util", "delivered", pricing=regular)
    receive(engine, delivered)
    receive(engine, delivered, spaced=True)
    receive(engine, status("2026-03-10T09:30:02", "wamid.util", "sent"))  # late: a refold

    (drift,) = events(engine, "billing.drift")
    assert drift["subject"] == "wamid.util"
    assert "free_customer_service" in drift["computed"]
    assert "regular" in drift["provider"]
    (row,) = outbox(engine, "billing.drift")
    assert row.occurred_at == datetime.fromisoformat("2026-03-10T09:30:05+00:00")


def _template_change(event: str, at: int) -> dict[str, Any]:
    value = {
        "event": event,
        "message_template_id": 1689556908129832,
        "message_template_name": "order_update",
        "message_template_language": "en_US",
        "reason": "NONE" if event == "APPROVED" else "LOW_QUALITY",
        "message_template_category": "UTILITY",
    }
    change = {"field": "message_template_status_update", "value": value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "time": at, "changes": [change]}],
    }


def test_template_webhooks_are_template_updated_events(engine: Engine) -> None:
    receive(engine, inbound("2026-03-10T09:00", "wamid.in"))  # tells wawindow the line's WABA
    approved = _template_change("APPROVED", 1773140000)

    receive(engine, approved)
    receive(engine, approved, spaced=True)
    receive(engine, _template_change("PAUSED", 1773150000))

    updates = events(engine, "template.updated")
    assert [(e["event"], e["status"]) for e in updates] == [
        ("status", "APPROVED"),
        ("status", "PAUSED"),
    ]
    assert updates[1]["status_reason"] == "LOW_QUALITY"
    assert updates[0]["phone_number_ids"] == [LINE]
    assert (updates[0]["name"], updates[0]["language"]) == ("order_update", "en_US")
    assert updates[0]["template_id"] == "1689556908129832"


def test_an_older_template_change_than_the_registry_shows_is_no_event(engine: Engine) -> None:
    receive(engine, inbound("2026-03-10T09:00", "wamid.in"))
    receive(engine, _template_change("PAUSED", 1773150000))
    receive(engine, _template_change("APPROVED", 1773140000))  # older: the registry keeps PAUSED

    assert [e["status"] for e in events(engine, "template.updated")] == ["PAUSED"]
