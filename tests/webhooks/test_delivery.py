"""Webhooks out end to end: ingested facts reach a real receiver, signed per Standard
Webhooks, in order per contact, retried with backoff, redelivered with the same id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.api.client import START
from tests.support import scenario
from tests.support.receiver import Received
from tests.webhooks.conftest import Hooks
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.domain.delivery_retries import RETRY_PERIOD

ALICE, BOB = "16505551234", "27821234567"
BODY_MEMBERS = {"type", "id", "created_at", "tenant_id", "data"}


def alice_talks(hooks: Hooks, at: str = "2026-03-10T11:00", n: int = 1) -> None:
    hooks.receive(scenario.inbound(at, f"wamid.alice.{at}.{n}", ALICE, name="Alice"))


def bob_talks(hooks: Hooks, at: str = "2026-03-10T11:00") -> None:
    hooks.receive(scenario.inbound(at, f"wamid.bob.{at}", BOB, name="Bob"))


def outbox_types(hooks: Hooks, tenant_id: str) -> list[str]:
    query = select(t.outbox.c.type).where(t.outbox.c.tenant_id == tenant_id)
    with hooks.world.services.engine.connect() as connection:
        found = connection.execute(query.order_by(t.outbox.c.id)).scalars()
        return [f"whatsapp.{event_type}" for event_type in found]


def of_contact(requests: list[Received], contact_id: str) -> list[Received]:
    return [r for r in requests if r.body["data"].get("contact_id") == contact_id]


def test_every_event_arrives_signed_with_the_standard_body(hooks_on: Hooks) -> None:
    hooks = hooks_on
    hooks.subscribe(["*"])
    hooks.subscribe(["*"], path="/theirs", key=hooks.world.theirs.key)
    hooks.receive(
        scenario.inbound("2026-03-10T11:00", "wamid.in1", ALICE, referral=True),
        scenario.status("2026-03-10T11:05", "wamid.out1", "sent", ALICE),
        scenario.status("2026-03-10T11:06", "wamid.out1", "delivered", ALICE),
        scenario.status("2026-03-10T11:07", "wamid.out1", "read", ALICE),
    )

    with hooks.world.services.delivery_job() as job:  # as the worker loop builds it
        hooks.drain(job=job)

    received = hooks.receiver.received
    expected = outbox_types(hooks, hooks.world.mine.id)
    assert len(expected) >= 6
    assert sorted(r.type for r in received) == sorted(expected)
    assert all(r.verified and r.answered == 200 and r.path == "/hook" for r in received)
    for request in received:
        body = request.body
        assert set(body) == BODY_MEMBERS
        assert body["tenant_id"] == hooks.world.mine.id
        assert body["id"].startswith("evt_")
        assert body["data"]["phone_number_id"] == hooks.world.mine.line
        assert request.headers["webhook-signature"].startswith("v1,")
        assert request.headers["content-type"] == "application/json"
    listed = hooks.deliveries()
    assert {d["id"] for d in listed} == {r.webhook_id for r in received}
    assert {d["status"] for d in listed} == {"succeeded"}
    assert all(len(d["attempts"]) == 1 for d in listed)
    by_id = {d["id"]: d for d in listed}
    for request in received:
        assert by_id[request.webhook_id]["payload"] == request.body


def test_an_endpoint_gets_only_the_events_it_subscribed_to(hooks: Hooks) -> None:
    hooks.subscribe(["whatsapp.conversation.*"], path="/conversations")
    hooks.subscribe(["whatsapp.message.received", "whatsapp.window.opened"], path="/some")
    alice_talks(hooks)

    hooks.drain()

    paths: dict[str, set[str]] = {}
    for request in hooks.receiver.received:
        paths.setdefault(request.path, set()).add(request.type)
    assert paths == {
        "/conversations": {"whatsapp.conversation.created"},
        "/some": {"whatsapp.message.received", "whatsapp.window.opened"},
    }


def test_a_receiver_down_for_a_while_gets_everything_in_order_per_contact(hooks: Hooks) -> None:
    hooks.subscribe(["*"])
    alice_talks(hooks, "2026-03-10T11:00")
    bob_talks(hooks, "2026-03-10T11:01")
    alice_talks(hooks, "2026-03-10T11:30")
    alice, bob = hooks.contact_id("+" + ALICE), hooks.contact_id("+" + BOB)
    down = {alice}
    hooks.receiver.answer = lambda r: 503 if r.body["data"]["contact_id"] in down else 200

    hooks.drain()

    # Bob's events all went through; of Alice's, only the first was tried (and failed).
    assert len(of_contact(hooks.receiver.delivered, bob)) == 3
    assert [r.answered for r in of_contact(hooks.receiver.received, alice)] == [503]
    pending = hooks.deliveries(status="pending")
    # The one being retried, and six waiting behind it: her second message, half an hour
    # after the first, also proves the conversation went inactive and reactivates it.
    assert sorted(d["payload"]["type"] for d in pending) == [
        "whatsapp.conversation.created",
        "whatsapp.conversation.inactive",
        "whatsapp.conversation.reactivated",
        "whatsapp.message.received",
        "whatsapp.message.received",
        "whatsapp.window.extended",
        "whatsapp.window.opened",
    ]
    assert {d["payload"]["data"]["contact_id"] for d in pending} == {alice}

    # Still down for the next retries, which come at 5 s and 20 s more (nominal backoff).
    times = _retry_times(hooks, 2)
    assert times == [START + timedelta(seconds=5), START + timedelta(seconds=25)]
    assert [r.answered for r in of_contact(hooks.receiver.received, alice)] == [503, 503, 503]

    down.clear()
    hooks.drain(START + timedelta(seconds=105))

    delivered = of_contact(hooks.receiver.delivered, alice)
    expected = [
        d for d in reversed(hooks.deliveries()) if d["payload"]["data"]["contact_id"] == alice
    ]
    assert [r.webhook_id for r in delivered] == [d["id"] for d in expected]
    assert len(delivered) == 7
    assert all(r.verified for r in delivered)
    assert {d["status"] for d in hooks.deliveries()} == {"succeeded"}
    first = hooks.deliveries(status="succeeded")[-1]
    assert [a["status_code"] for a in first["attempts"]] == [503, 503, 503, 200]


def _retry_times(hooks: Hooks, rounds: int) -> list[datetime]:
    """Tick at each retry time the API shows (of deliveries tried before); the times used."""
    used = []
    for _ in range(rounds):
        retried = [d for d in hooks.deliveries(status="pending") if d["attempt_count"]]
        due = [d["next_attempt_at"] for d in retried]
        at = min(datetime.fromisoformat(x) for x in due)
        assert hooks.drain(at - timedelta(seconds=1)) == 0  # not a second early
        hooks.drain(at)
        used.append(at)
    return used


def test_backoff_runs_for_24_hours_then_gives_up_and_lets_later_events_go(hooks: Hooks) -> None:
    hooks.subscribe(["whatsapp.message.received"])
    alice_talks(hooks, "2026-03-10T11:00")
    alice_talks(hooks, "2026-03-10T11:05")
    hooks.receiver.answer = lambda r: 503 if r.body["data"]["subject"].endswith("11:00.1") else 200

    hooks.drain()
    attempt_times = [START]
    while hooks.receiver.delivered == []:
        attempt_times.extend(_retry_times(hooks, 1))
        assert attempt_times[-1] - START < RETRY_PERIOD + timedelta(hours=7)

    offsets = [int((at - START).total_seconds()) for at in attempt_times]
    assert offsets == [0, 5, 25, 105, 425, 1705, 6825, 27305, 48905, 70505, 92105]
    first, second = sorted(hooks.deliveries(), key=lambda d: d["payload"]["data"]["subject"])
    assert first["status"] == "failed"
    assert first["attempt_count"] == 11
    assert first["last_error"] == "HTTP 503"
    assert first["next_attempt_at"] is None
    assert [a["response_excerpt"] for a in first["attempts"]] == ["unavailable, try later"] * 11
    assert all(a["latency_ms"] >= 0 for a in first["attempts"])
    assert second["status"] == "succeeded"
    assert second["last_attempt_at"] == attempt_times[-1].isoformat().replace("+00:00", "Z")


def test_a_redelivery_keeps_the_webhook_id_and_body(hooks: Hooks) -> None:
    hooks.subscribe(["whatsapp.message.received"])
    alice_talks(hooks)
    hooks.drain()
    (delivery,) = hooks.deliveries()

    later = START + timedelta(days=2)
    hooks.world.now = later
    response = hooks.world.post(f"/v1/webhook-deliveries/{delivery['id']}/redeliver", None)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    hooks.drain(later)

    first, again = hooks.receiver.received
    assert first.webhook_id == again.webhook_id == delivery["id"]
    assert first.raw == again.raw
    assert again.verified
    shown = hooks.world.get(f"/v1/webhook-deliveries/{delivery['id']}").json()
    assert shown["status"] == "succeeded"
    assert shown["attempt_count"] == 2


def test_a_delivery_in_flight_cannot_be_redelivered(hooks: Hooks) -> None:
    hooks.subscribe(["whatsapp.message.received"])
    alice_talks(hooks)
    engine = hooks.world.services.engine
    with SqlDeliveryQueue(engine) as queue:
        from wawindow.service.webhook_fanout import fan_out

        fan_out(queue, START, 100)
        (claimed,) = queue.claim(START, 10, START + timedelta(minutes=1))
        queue.commit()

    response = hooks.world.post(f"/v1/webhook-deliveries/{claimed.id}/redeliver", None)

    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "path.delivery_id"


def test_a_ping_goes_to_the_tested_endpoint_only(hooks: Hooks) -> None:
    tested = hooks.subscribe(["whatsapp.conversation.created"], path="/tested")
    hooks.subscribe(["*"], path="/other")

    response = hooks.world.post(f"/v1/webhook-endpoints/{tested}/test", None)
    assert response.status_code == 202, response.text
    ping: dict[str, Any] = response.json()
    assert ping["event"]["type"] == "whatsapp.ping"
    assert ping["status"] == "pending"
    hooks.drain()

    (request,) = hooks.receiver.received
    assert request.path == "/tested"
    assert request.verified
    assert request.webhook_id == ping["id"]
    assert request.body["type"] == "whatsapp.ping"
    assert request.body["data"]["endpoint_id"] == tested
    assert hooks.deliveries(event_type="whatsapp.ping")[0]["status"] == "succeeded"
