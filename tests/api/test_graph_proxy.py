"""The Graph proxy answers exactly as the Cloud API does, and refuses free-form outside the window.

The line's ``graph_base_url`` points at a ``GraphServer`` (a real local server that
answers like WhatsApp); the proxy's answers are compared with what that server said.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.api.client import LINE, OTHER_LINE, ApiWorld
from tests.api.test_sending_api import add_template, connect_line, inbound, use_client
from tests.support.graph_server import Answer, GraphServer, graph_error, graph_server
from wawindow.adapters.db import schema as t

WA_ID = "16505551234"
PROXY = f"/graph/v23.0/{LINE}/messages"
TEXT = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": WA_ID,
    "type": "text",
    "text": {"preview_url": False, "body": "Your order is on its way"},
}
RE_ENGAGEMENT = {
    "message": "(#131047) Re-engagement message",
    "type": "OAuthException",
    "code": 131047,
    "error_data": {
        "messaging_product": "whatsapp",
        "details": "Message failed to send because more than 24 hours have passed since the "
        "customer last replied to this number.",
    },
}


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with graph_server() as running:
        yield running


@pytest.fixture
def world(tmp_path: Path, server: GraphServer) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}") as opened:
        connect_line(opened, LINE, server.base_url)
        use_client(opened, read_timeout=2.0, backoff=0.0, backoff_limit=0.0, pair_spacing=0.0)
        try:
            yield opened
        finally:
            opened.services.whatsapp.close()


def proxy(
    world: ApiWorld,
    body: Any,
    *,
    path: str = PROXY,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST to the proxy as a Cloud API client does: the API key as the bearer token."""
    sent = {"Authorization": f"Bearer {token or world.mine.key}", **(headers or {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent.setdefault("Content-Type", "application/json")

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=world.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, content=content, headers=sent)

    return asyncio.run(go())


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["fbtrace_id"].startswith("A")
    return {k: v for k, v in error.items() if k != "fbtrace_id"}


def sends(world: ApiWorld) -> list[Any]:
    with world.services.engine.connect() as connection:
        return list(connection.execute(select(t.sends).order_by(t.sends.c.created_at)))


def test_a_send_inside_the_window_answers_exactly_what_whatsapp_answered(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 10)
    answered = proxy(world, TEXT)
    assert answered.status_code == 200
    assert answered.json() == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
        "messages": [{"id": "wamid.GRAPH000001"}],
    }
    (request,) = server.requests
    assert request.body == TEXT  # forwarded as the client wrote it
    assert request.path == f"/v23.0/{LINE}/messages"
    assert request.headers["Authorization"] == "Bearer EAAG-token"  # the line's, not the key
    (row,) = sends(world)
    assert (row.source, row.state, row.wamid) == ("proxy", "accepted", "wamid.GRAPH000001")
    message = world.get("/v1/messages/wamid.GRAPH000001").json()
    assert (message["direction"], message["type"], message["status"]) == (
        "outbound",
        "text",
        "accepted",
    )
    assert message["conversation_id"] is not None


def test_free_form_outside_the_window_is_refused_at_once_with_131047(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 24 * 60 + 5)
    assert error_of(proxy(world, TEXT), 400) == RE_ENGAGEMENT
    never_wrote = {**TEXT, "to": "+55 11 99876-5432"}
    assert error_of(proxy(world, never_wrote), 400) == RE_ENGAGEMENT
    assert server.requests == []
    assert sends(world) == []


def test_a_template_goes_through_outside_the_window_with_its_category(
    world: ApiWorld, server: GraphServer
) -> None:
    add_template(world, "order_update")
    template = {
        "messaging_product": "whatsapp",
        "to": WA_ID,
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Sheena"}] * 2}
            ],
        },
    }
    assert proxy(world, template).status_code == 200
    assert server.requests[0].body == template
    message = world.get("/v1/messages/wamid.GRAPH000001").json()
    assert message["template"] == {"name": "order_update", "language": "en_US"}
    assert message["category"] == "utility"

    unknown = {**template, "template": {"name": "not_in_registry", "language": {"code": "en"}}}
    server.script(graph_error(132001, "(#132001) Template name does not exist in the translation"))
    refused = proxy(world, unknown)
    assert refused.status_code == 400  # WhatsApp's word, passed on exactly
    assert refused.json() == server_error(132001)
    assert [row.state for row in sends(world)] == ["accepted", "failed"]


def server_error(code: int) -> dict[str, Any]:
    return {
        "error": {
            "message": "(#132001) Template name does not exist in the translation",
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": f"Atrace{code}",
        }
    }


def test_mark_as_read_is_forwarded_unchanged_and_not_recorded(
    world: ApiWorld, server: GraphServer
) -> None:
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.in1"}
    answered = proxy(world, read)
    assert (answered.status_code, answered.json()) == (200, {"success": True})
    assert server.requests[0].body == read
    assert sends(world) == []


def test_whatsapps_errors_and_statuses_come_back_exactly(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 10)
    server.script(Answer(401, {"error": {"message": "Invalid OAuth access token.", "code": 190}}))
    answered = proxy(world, TEXT)
    assert answered.status_code == 401
    assert answered.json() == {"error": {"message": "Invalid OAuth access token.", "code": 190}}
    assert [row.state for row in sends(world)] == ["failed"]


def test_the_same_idempotency_key_gets_the_same_answer_without_a_second_send(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 10)
    first = proxy(world, TEXT, headers={"Idempotency-Key": "msg-1"})
    again = proxy(world, TEXT, headers={"Idempotency-Key": "msg-1"})
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(server.requests) == 1
    other = proxy(world, {**TEXT, "to": "5511998765432"}, headers={"Idempotency-Key": "msg-1"})
    assert error_of(other, 400)["code"] == 100


def test_no_answer_from_whatsapp_is_a_504_and_no_second_send(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 10)
    use_client(world, read_timeout=0.3, backoff=0.0)
    server.script(Answer(delay=5.0))
    lost = error_of(proxy(world, TEXT), 504)
    assert lost["code"] == 131000
    assert lost["wawindow_send_id"].startswith("snd_")
    assert len(server.requests) == 1
    assert [row.state for row in sends(world)] == ["unknown"]


@pytest.mark.parametrize(
    ("path", "body", "token", "status", "code"),
    [
        (PROXY, TEXT, "ww_not-a-key", 401, 190),
        (f"/graph/v23.0/{OTHER_LINE}/messages", TEXT, None, 400, 100),
        (f"/graph/v23.0/{LINE}0/messages", TEXT, None, 400, 100),
        ("/graph/latest/106540352242922/messages", TEXT, None, 400, 2635),
        (PROXY, b"{not json", None, 400, 100),
        (PROXY, [1, 2], None, 400, 100),
        (PROXY, {"messaging_product": "whatsapp", "type": "text"}, None, 400, 100),
    ],
)
def test_the_proxys_own_refusals_use_the_graph_error_shape(
    world: ApiWorld,
    server: GraphServer,
    path: str,
    body: Any,
    token: str | None,
    status: int,
    code: int,
) -> None:
    inbound(world, 10)
    assert error_of(proxy(world, body, path=path, token=token), status)["code"] == code
    assert server.requests == []


def test_another_tenants_line_looks_like_an_unknown_object(world: ApiWorld) -> None:
    error = error_of(proxy(world, TEXT, path=f"/graph/v23.0/{OTHER_LINE}/messages"), 400)
    assert error["type"] == "GraphMethodException"
    assert error["error_subcode"] == 33
    assert OTHER_LINE in error["message"]


def test_the_window_counts_the_send_margin(world: ApiWorld) -> None:
    inbound(world, 24 * 60 - 0.5)  # 30 seconds left: too close to the end
    assert error_of(proxy(world, TEXT), 400) == RE_ENGAGEMENT
