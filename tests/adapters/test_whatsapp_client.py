"""The Cloud API client against a real local HTTP server: what it retries, and what it never does.

Waits go through an injected ``sleep`` on a fake clock, so the retry schedule is
checked exactly and no test waits for a backoff; the HTTP traffic is real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.graph_server import Answer, GraphServer, graph_error, graph_server
from tests.support.server import free_port
from wawindow.adapters.whatsapp.client import HttpWhatsAppClient
from wawindow.adapters.whatsapp.pacing import PairPacer
from wawindow.service.ports import GraphLine, SendOutcomeUnknown, WhatsAppUnreachable

PHONE_NUMBER_ID = "106540352242922"
TEXT = {
    "messaging_product": "whatsapp",
    "to": "16505551234",
    "type": "text",
    "text": {"body": "Your order shipped"},
}


class FakeTime:
    """A monotonic clock that only sleeping moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with graph_server() as running:
        yield running


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def client_for(
    clock: FakeTime,
    sleep: Callable[[float], None] | None = None,
    **options: float,
) -> HttpWhatsAppClient:
    settings: dict[str, float] = {
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "backoff": 0.1,
        "backoff_limit": 1.0,
        "pair_spacing": 6.0,
        "attempts": 4,
        **options,
    }
    return HttpWhatsAppClient(
        connect_timeout=settings["connect_timeout"],
        read_timeout=settings["read_timeout"],
        attempts=int(settings["attempts"]),
        backoff=settings["backoff"],
        backoff_limit=settings["backoff_limit"],
        pair_spacing=settings["pair_spacing"],
        sleep=sleep or clock.sleep,
        monotonic=clock.monotonic,
        jitter=lambda: 0.5,
    )


def line_at(base_url: str) -> GraphLine:
    return GraphLine(PHONE_NUMBER_ID, "EAAG-line-token", base_url)


def test_a_send_posts_the_body_with_the_line_token_to_its_messages_endpoint(
    server: GraphServer, clock: FakeTime
) -> None:
    client = client_for(clock)
    reply = client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234")
    client.close()
    assert reply.ok
    assert reply.attempts == 1
    assert reply.body["messages"] == [{"id": "wamid.GRAPH000001"}]
    (request,) = server.requests
    assert request.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == "Bearer EAAG-line-token"
    assert request.body == TEXT
    assert clock.sleeps == []


def test_a_5xx_then_success_is_one_send_after_two_requests(
    server: GraphServer, clock: FakeTime
) -> None:
    server.script(Answer(503, {"error": {"message": "Service unavailable", "code": 2}}))
    client = client_for(clock)
    reply = client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234")
    client.close()
    assert reply.ok
    assert reply.attempts == 2
    assert len(server.requests) == 2
    assert reply.body["messages"] == [{"id": "wamid.GRAPH000001"}]
    assert clock.sleeps == [0.075]  # 0.1 s step, half fixed and half jitter (0.5)


def test_a_connect_timeout_is_retried_because_the_request_never_left(clock: FakeTime) -> None:
    with graph_server(accepting=False) as server:

        def open_the_door(seconds: float) -> None:
            clock.sleep(seconds)
            server.open()

        client = client_for(clock, sleep=open_the_door, connect_timeout=0.3)
        reply = client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234")
        client.close()
        assert reply.ok
        assert reply.attempts == 2
        assert len(server.requests) == 1  # the timed-out attempt never reached it


def test_a_refused_connection_is_retried_then_reported_unreachable(clock: FakeTime) -> None:
    client = client_for(clock, attempts=3)
    with pytest.raises(WhatsAppUnreachable) as raised:
        client.send(line_at(f"http://127.0.0.1:{free_port()}"), "v23.0", TEXT, "16505551234")
    client.close()
    assert raised.value.attempts == 3
    assert "ConnectError" in raised.value.reason
    assert clock.sleeps == [0.075, 0.15]  # exponential: 0.1 s, then 0.2 s steps


def test_a_read_timeout_after_the_request_reached_the_server_is_never_repeated(
    server: GraphServer, clock: FakeTime
) -> None:
    server.script(Answer(delay=10.0))
    client = client_for(clock, read_timeout=0.3)
    with pytest.raises(SendOutcomeUnknown) as raised:
        client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234")
    client.close()
    assert raised.value.attempts == 1
    assert "ReadTimeout" in raised.value.reason
    assert len(server.requests) == 1
    assert clock.sleeps == []


def test_the_throughput_limit_backs_off_exponentially(server: GraphServer, clock: FakeTime) -> None:
    limit = graph_error(130429, "(#130429) Rate limit hit", "Cloud API message throughput")
    server.script(limit, limit)
    client = client_for(clock)
    reply = client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234")
    client.close()
    assert reply.ok
    assert reply.attempts == 3
    assert len(server.requests) == 3
    assert clock.sleeps == [0.075, 0.15]


def test_retry_after_is_respected_up_to_the_backoff_limit(
    server: GraphServer, clock: FakeTime
) -> None:
    server.script(Answer(429, {"error": {"code": 4}}, headers={"Retry-After": "0.8"}))
    client = client_for(clock)
    assert client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234").ok
    client.close()
    assert clock.sleeps == [0.8]


def test_the_pair_rate_limit_spaces_sends_to_that_user_only(
    server: GraphServer, clock: FakeTime
) -> None:
    pair_limit = graph_error(
        131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    )
    server.script(pair_limit)
    client = client_for(clock)
    line = line_at(server.base_url)
    first = client.send(line, "v23.0", TEXT, "16505551234")
    assert first.ok
    assert first.attempts == 2
    assert clock.sleeps == [6.0]  # the retry went after the pair's spacing

    other = {**TEXT, "to": "5511998765432"}
    assert client.send(line, "v23.0", other, "5511998765432").ok
    assert clock.sleeps == [6.0]  # another user is not held

    assert client.send(line, "v23.0", TEXT, "16505551234").ok  # the spacing has passed
    client.close()
    assert clock.sleeps == [6.0]
    assert len(server.sends) == 4


def test_a_held_pair_waits_only_what_is_left_of_its_spacing(clock: FakeTime) -> None:
    pacer = PairPacer(6.0, clock.monotonic, clock.sleep)
    pair, other = ("line", "16505551234"), ("line", "5511998765432")
    pacer.hold(pair)
    clock.now += 2.0  # another send to the pair comes while it is held
    assert pacer.wait(pair) == pytest.approx(4.0)
    assert pacer.wait(other) == 0.0
    assert pacer.wait(pair) == 0.0
    pacer.hold(pair)
    pacer.hold(pair)  # a second 131056 at once does not push it further
    assert pacer.wait(pair) == pytest.approx(6.0)
    assert clock.sleeps == [4.0, 6.0]


def test_an_error_of_the_request_itself_is_answered_at_once(
    server: GraphServer, clock: FakeTime
) -> None:
    server.script(graph_error(131026, "(#131026) Message undeliverable", "Receiver is incapable"))
    client = client_for(clock)
    reply = client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234")
    client.close()
    assert reply.status == 400
    assert reply.attempts == 1
    assert reply.body["error"]["code"] == 131026  # type: ignore[index]
    assert len(server.requests) == 1


def test_the_last_answer_is_returned_when_every_attempt_failed(
    server: GraphServer, clock: FakeTime
) -> None:
    server.script(*[Answer(500, {"error": {"message": "boom", "code": 1}})] * 4)
    client = client_for(clock)
    reply = client.send(line_at(server.base_url), "v23.0", TEXT, "16505551234")
    client.close()
    assert reply.status == 500
    assert reply.attempts == 4
    assert len(server.requests) == 4
    assert clock.sleeps == [0.075, 0.15, 0.3]


def test_an_answer_that_is_not_json_becomes_a_graph_shaped_error(
    server: GraphServer, clock: FakeTime
) -> None:
    server.script(Answer(502, raw=b"<html>Bad Gateway</html>"))
    client = client_for(clock, attempts=1)
    reply = client.forward(line_at(server.base_url), "v23.0", {"status": "read"})
    client.close()
    assert reply.status == 502
    assert reply.body == {
        "error": {
            "message": "HTTP 502 without a JSON object in the body",
            "type": "UnexpectedResponse",
            "code": 502,
        }
    }
