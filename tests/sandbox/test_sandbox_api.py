"""The sandbox's own API over real HTTP: what users do (inbound, calls), the clock, faults,
webhook retries, determinism by seed; and the monthly free tier counted across sends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import MARCH_2026
from tests.support.sandbox import (
    RunningSandbox,
    WebhookReceiver,
    running_sandbox,
    sandbox_settings,
    wait_until,
)
from tests.support.server import free_port
from wawindow.adapters.meta.payload import parse_webhook
from wawindow.domain.facts import InboundMessage, UserCall
from wawindow.entrypoints.sandbox.sandbox import Accepted, Sandbox, SandboxSettings, Sender
from wawindow.entrypoints.sandbox.send_requests import MessageRequest
from wawindow.entrypoints.sandbox.simulation import PricingReport
from wawindow.entrypoints.sandbox.webhook_bodies import text

USER = "16505551234"


def problem_fields(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in answer.json()["errors"]]


# --------------------------------------------------------------------------- users write and call


def test_inbound_requests_are_checked_naming_the_field(sandbox: RunningSandbox) -> None:
    post = sandbox.client.post
    base = {"phone_number_id": "106540352242922"}
    assert problem_fields(post("/sandbox/inbound", json={**base, "text": "hi"})) == ["body.from"]
    assert problem_fields(
        post("/sandbox/inbound", json={**base, "from": "call me", "text": "x"})
    ) == ["body.from"]
    both = {**base, "from": USER, "text": "hi", "reaction": {"message_id": "w", "emoji": "x"}}
    assert problem_fields(post("/sandbox/inbound", json=both)) == ["body.text"]
    assert problem_fields(post("/sandbox/inbound", json={**base, "from": USER})) == ["body.text"]
    bad_bsuid = {**base, "from_user_id": "16505551234", "text": "x"}
    assert problem_fields(post("/sandbox/inbound", json=bad_bsuid)) == ["body.from_user_id"]
    bad_line = {"phone_number_id": "line-1", "from": USER, "text": "x"}
    assert problem_fields(post("/sandbox/inbound", json=bad_line)) == ["body.phone_number_id"]
    unknown = {**base, "from": USER, "text": "x", "color": "red"}
    assert problem_fields(post("/sandbox/inbound", json=unknown)) == ["body.color"]
    assert sandbox.messages()["data"] == []


def test_button_replies_and_reactions_are_posted_as_users_send_them(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sent = sandbox.template(USER).json()["messages"][0]["id"]
    tap = sandbox.inbound(**{"from": USER, "button": {"text": "Track", "context_message_id": sent}})
    liked = sandbox.inbound(**{"from": USER, "reaction": {"message_id": sent, "emoji": "👍"}})
    plain = sandbox.inbound(**{"from": USER, "button": "Yes"})
    messages = [
        b["entry"][0]["changes"][0]["value"]["messages"][0]
        for b in (tap["body"], liked["body"], plain["body"])
    ]
    assert messages[0]["button"] == {"payload": "Track", "text": "Track"}
    assert messages[0]["context"] == {"from": "15550783881", "id": sent}
    assert messages[1]["reaction"] == {"message_id": sent, "emoji": "👍"}
    assert messages[2]["button"] == {"payload": "Yes", "text": "Yes"}
    inbound = [
        f
        for body in receiver.bodies()
        for f in parse_webhook(body).facts
        if isinstance(f, InboundMessage)
    ]
    assert [(f.message_id, f.type) for f in inbound] == [
        (tap["id"], "button"),
        (liked["id"], "reaction"),
        (plain["id"], "button"),
    ]


def test_a_user_call_opens_the_window_and_ends_with_a_terminate(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    connect = sandbox.client.post(
        "/sandbox/call", json={"phone_number_id": "106540352242922", "from": USER}
    )
    assert connect.status_code == 200, connect.text
    call_id = connect.json()["id"]
    assert call_id.startswith("wacid.")
    sandbox.advance(90)
    end = sandbox.client.post(
        "/sandbox/call",
        json={
            "phone_number_id": "106540352242922",
            "from": USER,
            "event": "terminate",
            "call_id": call_id,
        },
    )
    ended = end.json()["body"]["entry"][0]["changes"][0]["value"]["calls"][0]
    assert (ended["event"], ended["duration"], ended["status"]) == ("terminate", 90, "COMPLETED")
    calls = [
        f
        for body in receiver.bodies()
        for f in parse_webhook(body).facts
        if isinstance(f, UserCall)
    ]
    assert [(c.call_id, c.event, c.at) for c in calls] == [
        (call_id, "connect", MARCH_2026),
        (call_id, "terminate", MARCH_2026 + timedelta(seconds=90)),
    ]
    reply = sandbox.text(USER, "You called?")
    sandbox.settle()
    logged = sandbox.client.get(f"/sandbox/messages/{reply.json()['messages'][0]['id']}").json()
    assert logged["outcome"] == "delivered"


def test_a_phone_number_and_a_bsuid_of_two_users_conflict(sandbox: RunningSandbox) -> None:
    sandbox.inbound(**{"from": USER, "text": "hi"})
    sandbox.inbound(from_user_id="GB.5550001", text="hello")
    both = {
        "phone_number_id": "106540352242922",
        "from": USER,
        "from_user_id": "GB.5550001",
        "text": "x",
    }
    answer = sandbox.client.post("/sandbox/inbound", json=both)
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["field"] == "body.from_user_id"


def test_the_log_lists_messages_by_direction_and_by_id(sandbox: RunningSandbox) -> None:
    inbound = sandbox.inbound(**{"from": USER, "text": "hi"})
    sandbox.text(USER, "hello")
    sandbox.settle()
    only_in = sandbox.client.get("/sandbox/messages", params={"direction": "inbound"}).json()[
        "data"
    ]
    assert [m["id"] for m in only_in] == [inbound["id"]]
    out = sandbox.client.get("/sandbox/messages", params={"direction": "outbound"}).json()["data"]
    assert [s["status"] for s in out[0]["statuses"]] == ["sent", "delivered", "read"]
    assert all(s["webhook"]["state"] == "delivered" for s in out[0]["statuses"])
    other_line = sandbox.client.get("/sandbox/messages", params={"phone_number_id": "1"}).json()
    assert other_line["data"] == []
    missing = sandbox.client.get("/sandbox/messages/wamid.nope")
    assert missing.status_code == 404
    webhooks = sandbox.client.get("/sandbox/webhooks").json()["data"]
    assert [w["number"] for w in webhooks] == [1, 2, 3, 4]
    assert webhooks[0]["body"] == inbound["body"]
    info = sandbox.client.get("/sandbox").json()
    assert (info["seed"], info["clock"]["era"], info["clock"]["frozen"]) == (7, "PMP-1", True)


# --------------------------------------------------------------------------- the clock


def test_the_clock_moves_by_advance_offset_or_instant(sandbox: RunningSandbox) -> None:
    clock = sandbox.client.get("/sandbox/clock").json()
    assert (clock["now"], clock["unix"], clock["frozen"]) == (
        "2026-03-10T10:00:00Z",
        int(MARCH_2026.timestamp()),
        True,
    )
    assert sandbox.advance(-3600)["now"] == "2026-03-10T09:00:00Z"
    moved = sandbox.client.post("/sandbox/clock", json={"at": "2025-03-05T10:00:00+02:00"}).json()
    assert (moved["now"], moved["era"]) == ("2025-03-05T08:00:00Z", "CBP")
    offset = sandbox.client.post("/sandbox/clock", json={"offset_seconds": 86400}).json()
    assert offset["offset_seconds"] == 86400
    running = sandbox.client.post("/sandbox/clock", json={"frozen": False}).json()
    assert running["frozen"] is False
    assert 86370 <= running["offset_seconds"] <= 86400  # kept, less the time between requests
    two_moves = sandbox.client.post(
        "/sandbox/clock", json={"advance_seconds": 1, "offset_seconds": 1}
    )
    assert problem_fields(two_moves) == ["body.offset_seconds"]
    assert problem_fields(sandbox.client.post("/sandbox/clock", json={})) == [
        "body.advance_seconds"
    ]


def test_a_running_clock_started_a_day_ahead(receiver: WebhookReceiver) -> None:
    settings = sandbox_settings(receiver, time_offset=timedelta(hours=24))
    with running_sandbox(settings) as sandbox:
        clock = sandbox.client.get("/sandbox/clock").json()
        assert clock["frozen"] is False
        assert 86399 <= clock["offset_seconds"] <= 86400
        before = int(datetime.now(UTC).timestamp())
        inbound = sandbox.inbound(**{"from": USER, "text": "hi"})
        after = int(datetime.now(UTC).timestamp())
        stamp = int(inbound["body"]["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"])
        assert before + 86400 <= stamp <= after + 86400


# --------------------------------------------------------------------------- faults


def test_faults_answer_the_next_sends_one_each_in_order(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    faults = {
        "responses": [
            {"status": 500},
            {"error_code": 130429},
            {"status": 503},
            {"error_code": 131056, "status": 429},
        ]
    }
    queued = sandbox.client.post("/sandbox/faults", json=faults)
    assert len(queued.json()["pending"]) == 4
    answers = [sandbox.template(USER) for _ in range(5)]
    assert [a.status_code for a in answers] == [500, 400, 503, 429, 200]
    codes = [a.json()["error"]["code"] for a in answers[:4]]
    assert codes == [1, 130429, 2, 131056]
    assert answers[0].json()["error"]["is_transient"] is True
    assert answers[1].json()["error"]["message"] == "(#130429) Rate limit hit"
    assert sandbox.client.get("/sandbox/faults").json() == {"pending": []}
    sandbox.settle()
    assert len(sandbox.messages()["data"]) == 1  # only the last send went out
    assert sandbox.client.post("/sandbox/faults", json={"responses": [{}]}).status_code == 422
    sandbox.client.post("/sandbox/faults", json={"responses": [{"status": 500}]})
    assert sandbox.client.delete("/sandbox/faults").json() == {"pending": []}


def test_a_slow_answer_still_sends_the_message_once(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.client.post("/sandbox/faults", json={"responses": [{"delay_seconds": 1.5}]})
    body = {
        "messaging_product": "whatsapp",
        "to": USER,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    with (
        httpx.Client(base_url=sandbox.base_url, timeout=0.3) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post(
            "/v23.0/106540352242922/messages", json=body, headers={"Authorization": "Bearer t"}
        )
    wait_until(lambda: len(receiver.bodies()) == 3, what="the statuses of the slow send")
    sandbox.settle()
    [message] = sandbox.messages()["data"]
    assert [s["status"] for s in message["statuses"]] == ["sent", "delivered", "read"]


# --------------------------------------------------------------------------- webhook delivery


def test_webhooks_are_retried_while_the_receiver_fails(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    receiver.fail_next(2, status=503)
    inbound = sandbox.inbound(**{"from": USER, "text": "hi"})
    assert inbound["webhook"] == {
        "number": 1,
        "field": "messages",
        "state": "delivered",
        "attempts": 3,
        "status_code": 200,
        "error": None,
    }
    assert len(receiver.posts) == 1


def test_a_receiver_down_for_good_fails_the_post_and_the_next_one_still_goes(
    receiver: WebhookReceiver,
) -> None:
    with running_sandbox(sandbox_settings(receiver, webhook_attempts=3)) as sandbox:
        receiver.fail_next(100, status=500)
        lost = sandbox.inbound(**{"from": USER, "text": "hi"})
        assert (lost["webhook"]["state"], lost["webhook"]["attempts"]) == ("failed", 3)
        assert lost["webhook"]["status_code"] == 500
        receiver.fail_next(0)
        assert sandbox.inbound(**{"from": USER, "text": "again"})["webhook"]["state"] == "delivered"


def test_a_4xx_from_the_receiver_is_not_retried(receiver: WebhookReceiver) -> None:
    receiver.fail_next(1, status=401)
    with running_sandbox(sandbox_settings(receiver)) as sandbox:
        refused = sandbox.inbound(**{"from": USER, "text": "hi"})["webhook"]
        assert (refused["state"], refused["attempts"], refused["status_code"]) == ("failed", 1, 401)


def test_an_unreachable_receiver_is_reported(receiver: WebhookReceiver) -> None:
    settings = sandbox_settings(
        receiver, webhook_url=f"http://127.0.0.1:{free_port()}/hook", webhook_attempts=2
    )
    with running_sandbox(settings) as sandbox:
        lost = sandbox.inbound(**{"from": USER, "text": "hi"})["webhook"]
        assert (lost["state"], lost["attempts"], lost["status_code"]) == ("failed", 2, None)
        assert "ConnectError" in lost["error"]


# --------------------------------------------------------------------------- determinism


def play(sandbox: RunningSandbox) -> list[Any]:
    """The same requests, in the same order; the answers they get."""
    answers: list[Any] = [sandbox.inbound(**{"from": USER, "text": "hi", "referral": {}})["body"]]
    answers.append(sandbox.text(USER, "welcome").json())
    sandbox.advance(3 * 86400)
    answers.append(sandbox.text(USER, "are you there?").json())
    answers.append(sandbox.template("447700900123").json())
    answers.append(
        sandbox.client.post(
            "/sandbox/call", json={"phone_number_id": "106540352242922", "from_user_id": "BR.77"}
        ).json()["body"]
    )
    answers.append(
        sandbox.send({"messaging_product": "whatsapp", "to": USER, "text": {}}).json()["error"][
            "fbtrace_id"
        ]
    )
    sandbox.settle()
    return answers


def test_the_same_seed_and_requests_give_the_same_ids_and_bodies() -> None:
    runs = []
    for seed in (42, 42, 43):
        with WebhookReceiver().running() as own:
            settings = sandbox_settings(own, seed=seed, start_at=MARCH_2026, frozen_clock=True)
            with running_sandbox(settings) as sandbox:
                runs.append((play(sandbox), own.bodies()))
    (first, first_bodies), (second, second_bodies), (other, other_bodies) = runs
    for body in first_bodies:
        parsed = parse_webhook(body)
        assert parsed.skipped == ()
        assert parsed.facts
    assert first == second
    assert first_bodies == second_bodies
    assert len(first_bodies) == 9  # inbound, 3 + 1 + 3 statuses, call
    assert first[1]["messages"] != other[1]["messages"]
    assert first_bodies != other_bodies


# --------------------------------------------------------------------------- the monthly free tier


def test_the_1001st_service_message_of_a_month_on_a_line_is_billed() -> None:
    # DESIGN 5.4 (PMP-2): the first 1,000 delivered free-form replies of a line a month are free.
    settings = SandboxSettings(
        webhook_url="http://127.0.0.1:9/unused",
        app_secret="s",
        start_at=datetime(2026, 11, 10, 9, 0, tzinfo=UTC),
        frozen_clock=True,
    )
    reply = MessageRequest(USER, USER, None, "text")

    async def month() -> list[PricingReport | None]:
        sandbox = Sandbox(settings)  # its webhooks stay queued: the sender is not started
        for line in ("106540352242922", "999"):
            sandbox.inbound(Sender(line, USER, None), text("hi"))
        results = [sandbox.send("106540352242922", reply, {}) for _ in range(1001)]
        results.append(sandbox.send("999", reply, {}))
        return [r.message.pricing if isinstance(r, Accepted) else None for r in results]

    pricing = asyncio.run(month())
    free = PricingReport(False, "PMP", "service", "free_customer_service")
    assert pricing[:1000] == [free] * 1000
    assert pricing[1000] == PricingReport(True, "PMP", "service", "regular")
    assert pricing[1001] == free  # another line has its own 1,000
