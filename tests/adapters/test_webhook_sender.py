"""The Standard Webhooks sender over real sockets: headers and signature as the spec
says, timeouts and refused connections as failed attempts, redirects not followed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.support.receiver import Receiver, running_receiver
from wawindow.adapters.webhook_sender import EXCERPT_CHARS, HttpWebhookSender
from wawindow.service.webhook_endpoints import new_secret
from wawindow.service.webhook_ports import OutgoingWebhook

BODY = {"type": "whatsapp.ping", "id": "evt_1", "data": {"message": "héllo"}}


@pytest.fixture
def sender() -> Iterator[HttpWebhookSender]:
    made = HttpWebhookSender(timeout=2.0, connect_timeout=2.0)
    yield made
    made.close()


def webhook(url: str, *secrets: str) -> OutgoingWebhook:
    return OutgoingWebhook(url, "msg_abc", BODY, secrets or (new_secret(),))


def test_a_request_carries_the_standard_headers_and_a_valid_signature(
    sender: HttpWebhookSender,
) -> None:
    secret = new_secret()
    with running_receiver(Receiver(secrets=[secret])) as (receiver, url):
        result = sender.send(webhook(url + "/in", secret))

    (request,) = receiver.received
    assert result.succeeded
    assert result.status_code == 200
    assert result.response_excerpt == '{"ok": true}'
    assert request.verified
    assert request.webhook_id == "msg_abc"
    assert json.loads(request.raw) == BODY
    # The signature, computed independently of the library: HMAC-SHA256 over id.timestamp.body.
    timestamp = request.headers["webhook-timestamp"]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = b"msg_abc." + timestamp.encode() + b"." + request.raw
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    now = datetime.now(UTC).timestamp()
    assert abs(int(timestamp) - now) < 300  # the receiver's tolerance: the attempt's time


def test_each_secret_adds_a_signature(sender: HttpWebhookSender) -> None:
    old, new = new_secret(), new_secret()
    with running_receiver(Receiver(secrets=[old])) as (receiver, url):
        sender.send(webhook(url, new, old))

    (request,) = receiver.received
    assert request.headers["webhook-signature"].count("v1,") == 2
    assert request.verified


def test_an_error_answer_is_a_failure_with_its_excerpt(sender: HttpWebhookSender) -> None:
    with running_receiver(Receiver(answer=lambda request: 503)) as (_, url):
        result = sender.send(webhook(url))

    assert not result.succeeded
    assert result.status_code == 503
    assert result.response_excerpt == "unavailable, try later"
    assert result.error is None


def test_a_redirect_is_not_followed(sender: HttpWebhookSender) -> None:
    with running_receiver(Receiver(answer=lambda request: 301)) as (receiver, url):
        result = sender.send(webhook(url))

    assert result.status_code == 301
    assert not result.succeeded
    assert len(receiver.received) == 1


def test_a_refused_connection_is_a_failed_attempt(sender: HttpWebhookSender) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # closed now: nothing listens on the port

    result = sender.send(webhook(f"http://127.0.0.1:{port}/"))

    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("ConnectError")


def test_an_endpoint_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connections are accepted by the kernel, and never answered
        sender = HttpWebhookSender(timeout=0.2, connect_timeout=2.0)
        try:
            result = sender.send(webhook(f"http://127.0.0.1:{silent.getsockname()[1]}/"))
        finally:
            sender.close()

    assert result.status_code is None
    assert result.error == "timed out (ReadTimeout)"


def test_a_long_answer_is_cut_to_an_excerpt(sender: HttpWebhookSender) -> None:
    long_reply = Receiver(answer=lambda request: 200, reply="é".encode() * 100_000)

    with running_receiver(long_reply) as (_, url):
        result = sender.send(webhook(url))

    assert result.succeeded
    assert result.response_excerpt == "é" * EXCERPT_CHARS


@pytest.mark.parametrize("url", ["http://xn--/", "http://a..b/"])
def test_a_url_that_cannot_be_sent_to_fails_the_attempt_only(
    sender: HttpWebhookSender, url: str
) -> None:
    result = sender.send(webhook(url))

    assert result.status_code is None
    assert result.error is not None
    assert "idna" in result.error.lower() or "label" in result.error.lower()
