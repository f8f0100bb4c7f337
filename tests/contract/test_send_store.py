"""The sends table and the gate's reads, on SQLite and PostgreSQL; one send end to end on each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.client import LINE, START, ApiWorld
from tests.api.test_sending_api import connect_line, inbound, use_client
from tests.support.graph_server import GraphServer, graph_server
from wawindow.adapters.db.send_store import SqlSendStore, SqlSendStores
from wawindow.domain.facts import OutboundMessage, StatusUpdate
from wawindow.domain.identity import Identity
from wawindow.service.send_records import SendOutcome, SendRecord, SendSource, SendState

NOVEMBER = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)  # PMP-2: 1,000 free service messages


@pytest.fixture
def world(db_url: str) -> Iterator[ApiWorld]:
    with ApiWorld.open(db_url) as opened:
        try:
            yield opened
        finally:
            opened.services.whatsapp.close()


def record(world: ApiWorld, key: str | None, send_id: str = "snd_1") -> SendRecord:
    return SendRecord(
        id=send_id,
        tenant_id=world.mine.id,
        line=LINE,
        contact_id=None,
        recipient="16505551234",
        source=SendSource.API,
        idempotency_key=key,
        request_hash="h" * 64,
        state=SendState.QUEUED,
        wamid=None,
        decision={"allowed": True, "reason": "window_open"},
        error=None,
        response_status=None,
        response=None,
        created_at=START,
        updated_at=START,
    )


def test_a_key_is_taken_once_per_tenant(world: ApiWorld) -> None:
    with SqlSendStore(world.services.engine) as store:
        assert store.add_send(record(world, "k1"))
        assert not store.add_send(record(world, "k1", "snd_2"))
        assert store.add_send(record(world, None, "snd_3"))
        assert store.add_send(record(world, None, "snd_4"))  # no key: never a conflict
        theirs = replace(record(world, "k1", "snd_5"), tenant_id=world.theirs.id, line="999000111")
        assert store.add_send(theirs)
        store.commit()
    with SqlSendStores(world.services.engine).reader() as reader:
        found = reader.send_by_key(world.mine.id, "k1")
        assert found is not None
        assert (found.id, found.state, found.decision) == (
            "snd_1",
            SendState.QUEUED,
            {"allowed": True, "reason": "window_open"},
        )
        assert reader.send_by_key(world.mine.id, "k2") is None


def test_finishing_a_send_keeps_whatsapps_answer(world: ApiWorld) -> None:
    answer: dict[str, Any] = {"messages": [{"id": "wamid.X"}], "contacts": []}
    with SqlSendStore(world.services.engine) as store:
        store.add_send(record(world, "k1"))
        outcome = SendOutcome(SendState.ACCEPTED, "wamid.X", None, None, 200, answer)
        finished = store.finish_send("snd_1", outcome, START + timedelta(seconds=1))
        store.commit()
    assert (finished.state, finished.wamid, finished.response_status) == (
        SendState.ACCEPTED,
        "wamid.X",
        200,
    )
    assert finished.response == answer
    assert finished.updated_at == START + timedelta(seconds=1)
    assert finished.created_at == START


def test_the_months_delivered_service_messages_are_counted_up_to_a_limit(
    world: ApiWorld,
) -> None:
    user = Identity.of(wa_id="16505551234")
    for number in range(3):
        wamid, at = f"wamid.{number}", NOVEMBER + timedelta(minutes=number)
        world.ingest(
            OutboundMessage(LINE, wamid, at, user, "text"),
            StatusUpdate(LINE, wamid, "delivered", at + timedelta(seconds=2), user),
        )
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    with SqlSendStores(world.services.engine).reader() as reader:
        assert reader.service_delivered(world.mine.id, LINE, start, end, 1000) == 3
        assert reader.service_delivered(world.mine.id, LINE, start, end, 2) == 2
        assert reader.service_delivered(world.theirs.id, LINE, start, end, 1000) == 0
        october = datetime(2026, 10, 1, tzinfo=UTC)
        assert reader.service_delivered(world.mine.id, LINE, october, start, 1000) == 0


@pytest.fixture
def cloud_api() -> Iterator[GraphServer]:
    with graph_server() as running:
        yield running


def test_a_send_through_the_api_on_each_backend(world: ApiWorld, cloud_api: GraphServer) -> None:
    connect_line(world, LINE, cloud_api.base_url)
    use_client(world, backoff=0.0)
    inbound(world, 5)
    body = {"phone_number_id": LINE, "to": "+1 650 555 1234", "text": "Hi"}
    sent = world.post("/v1/messages", body)
    assert sent.status_code == 200, sent.text
    message = world.get(f"/v1/messages/{sent.json()['message_id']}").json()
    assert (message["status"], message["contact_id"]) == ("accepted", sent.json()["contact_id"])
    closed = world.post("/v1/contacts/ct_missing/reply", {"text": "x"})
    assert closed.status_code == 404
