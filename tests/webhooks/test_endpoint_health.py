"""An endpoint failing for 3 days is disabled; its owner enables it and redelivers what it
missed. Rotating a secret: both secrets sign for a day, then only the new one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.api.client import START
from tests.support import scenario
from tests.support.receiver import Received
from tests.webhooks.conftest import Hooks
from wawindow.domain.delivery_retries import DISABLE_AFTER, LONGEST_WAIT

ALICE = "16505551234"
MESSAGE_EVERY = timedelta(hours=20)


def say(hooks: Hooks, at: datetime) -> None:
    """Alice writes at ``at`` (wawindow receives it then)."""
    hooks.world.now = at
    when = at.strftime("%Y-%m-%dT%H:%M:%S")
    hooks.receive(scenario.inbound(when, f"wamid.{when}", ALICE))


def endpoint(hooks: Hooks, endpoint_id: str) -> dict[str, Any]:
    found: dict[str, Any] = hooks.world.get(f"/v1/webhook-endpoints/{endpoint_id}").json()
    return found


def next_retry(hooks: Hooks) -> datetime | None:
    retried = [d for d in hooks.deliveries(status="pending") if d["attempt_count"]]
    times = [datetime.fromisoformat(d["next_attempt_at"]) for d in retried]
    return min(times, default=None)


def test_failing_for_three_days_disables_and_enabling_redelivers(hooks: Hooks) -> None:
    endpoint_id = hooks.subscribe(["whatsapp.message.received"])
    hooks.receiver.answer = lambda request: 503
    say(hooks, START)
    hooks.drain(START)

    # Alice writes every 20 hours; each attempt fails; wawindow keeps retrying.
    next_message = START + MESSAGE_EVERY
    while endpoint(hooks, endpoint_id)["enabled"]:
        retry_at = next_retry(hooks)
        assert retry_at is not None
        assert retry_at < START + timedelta(days=5), "never disabled"
        if next_message <= retry_at:
            say(hooks, next_message)
            next_message += MESSAGE_EVERY
        hooks.drain(min(retry_at, next_message))

    shown = endpoint(hooks, endpoint_id)
    disabled_at = datetime.fromisoformat(shown["disabled_at"])
    assert shown["failing_since"] == "2026-03-10T12:00:00Z"
    assert START + DISABLE_AFTER <= disabled_at < START + DISABLE_AFTER + LONGEST_WAIT * 1.25
    assert shown["disabled_reason"] == "every attempt failed since 2026-03-10T12:00:00Z"
    assert {d["status"] for d in hooks.deliveries()} == {"failed"}
    tried = len(hooks.receiver.received)

    # While disabled, new events are recorded as missed and nothing is sent.
    say(hooks, disabled_at + timedelta(hours=1))
    hooks.drain()
    assert len(hooks.receiver.received) == tried
    missed = hooks.deliveries()[0]
    assert missed["status"] == "failed"
    assert missed["attempt_count"] == 0
    assert missed["last_error"] == "endpoint disabled: enable it and redeliver"

    # The owner fixes the receiver, enables the endpoint and redelivers since it broke.
    hooks.receiver.answer = lambda request: 200 if request.verified else 401
    hooks.world.now = disabled_at + timedelta(hours=2)
    answer = hooks.world.post(
        f"/v1/webhook-endpoints/{endpoint_id}/enable", {"redeliver_since": "2026-03-10T00:00Z"}
    )
    assert answer.status_code == 200, answer.text
    everything = hooks.deliveries()
    assert answer.json()["redelivered"] == len(everything) == 5
    assert answer.json()["endpoint"]["enabled"] is True
    assert answer.json()["endpoint"]["failing_since"] is None
    hooks.drain()

    delivered = hooks.receiver.delivered
    assert [r.webhook_id for r in delivered] == [d["id"] for d in reversed(everything)]
    assert [r.body["data"]["subject"] for r in delivered] == sorted(
        r.body["data"]["subject"] for r in delivered
    )
    assert {d["status"] for d in hooks.deliveries()} == {"succeeded"}


def test_enabling_without_redelivery_leaves_missed_deliveries_failed(hooks: Hooks) -> None:
    endpoint_id = hooks.subscribe(["whatsapp.message.received"])
    paused = hooks.world.request(
        "PATCH", f"/v1/webhook-endpoints/{endpoint_id}", json={"enabled": False}
    )
    assert paused.json()["disabled_reason"] == "disabled by its owner"
    say(hooks, START)
    hooks.drain()

    answer = hooks.world.post(f"/v1/webhook-endpoints/{endpoint_id}/enable", None)
    hooks.drain()

    assert answer.json()["redelivered"] == 0
    assert hooks.receiver.received == []
    (missed,) = hooks.deliveries()
    assert missed["status"] == "failed"
    again = hooks.world.post(f"/v1/webhook-deliveries/{missed['id']}/redeliver", None)
    assert again.status_code == 202
    hooks.drain()
    assert [r.webhook_id for r in hooks.receiver.delivered] == [missed["id"]]


def verifies(secret: str, request: Received) -> bool:
    try:
        Webhook(secret).verify(request.raw, request.headers)
    except WebhookVerificationError:
        return False
    return True


def test_after_a_rotation_both_secrets_sign_for_a_day_then_only_the_new(hooks: Hooks) -> None:
    endpoint_id = hooks.subscribe(["whatsapp.message.received"])
    old = hooks.receiver.secrets[0]

    rotated = hooks.world.post(f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret", None)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert "secret" not in endpoint(hooks, endpoint_id)
    hooks.receiver.secrets = [new]

    say(hooks, START)
    hooks.drain()
    a_day_later = START + timedelta(hours=24)
    say(hooks, a_day_later)
    hooks.drain()

    first, second = hooks.receiver.delivered
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert verifies(new, first)
    assert verifies(old, first)
    assert first.headers["webhook-signature"].count("v1,") == 2
    assert second.headers["webhook-signature"].count("v1,") == 1
    assert verifies(new, second)
    assert not verifies(old, second)


def test_a_disabled_endpoint_cannot_be_tested_nor_its_deliveries_redelivered(
    hooks: Hooks,
) -> None:
    endpoint_id = hooks.subscribe(["whatsapp.message.received"])
    say(hooks, START)
    hooks.drain()
    (delivery,) = hooks.deliveries()
    hooks.world.request("PATCH", f"/v1/webhook-endpoints/{endpoint_id}", json={"enabled": False})

    tested = hooks.world.post(f"/v1/webhook-endpoints/{endpoint_id}/test", None)
    again = hooks.world.post(f"/v1/webhook-deliveries/{delivery['id']}/redeliver", None)

    assert tested.status_code == again.status_code == 409
    assert tested.headers["content-type"] == "application/problem+json"
    assert "enable it first" in again.json()["detail"]
