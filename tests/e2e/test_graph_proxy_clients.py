"""Unmodified Cloud API clients pointed at a real ``wawindow serve`` get the gate.

pywa (its published package, not patched) takes the ``httpx.Client`` it sends
with; once it has set the client up, the client's base URL is moved from
``https://graph.facebook.com/v23.0`` to the proxy, and the wawindow API key is
pywa's token. A plain ``httpx`` call does the same by hand. The line's Graph base
URL points at a local server that answers like WhatsApp.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pywa import WhatsApp
from pywa.errors import ReEngagementMessage

from tests.support.graph_server import GraphServer, graph_server
from tests.support.server import Server, create_tenant, run_cli, serve

LINE = "106540352242922"
SECRET = "proxy-app-secret"
WRITES_NOW = "16505551234"  # wrote a minute ago: the window is open
WROTE_YESTERDAY = "5511998765432"  # wrote 25 hours ago: the window is closed


def inbound_body(wa_id: str, message_id: str, at: datetime) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": LINE},
        "contacts": [{"wa_id": wa_id, "profile": {"name": "Customer"}}],
        "messages": [
            {
                "from": wa_id,
                "id": message_id,
                "timestamp": str(int(at.timestamp())),
                "type": "text",
                "text": {"body": "Hello"},
            }
        ],
    }
    change = {"field": "messages", "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [change]}]}


@pytest.fixture
def cloud_api() -> Iterator[GraphServer]:
    with graph_server() as running:
        yield running


@pytest.fixture
def wawindow(tmp_path: Path, sqlite_url: str, cloud_api: GraphServer) -> Iterator[Server]:
    tenant = create_tenant(sqlite_url, tmp_path, phone_number_ids=(), app_secret=SECRET)
    run_cli(
        sqlite_url,
        tmp_path,
        *("line", "add", "--tenant", tenant.tenant_id, "--phone-number-id", LINE),
        *("--app-secret", SECRET, "--verify-token", "verify"),
        *("--access-token", "EAAG-line-token", "--graph-base-url", cloud_api.base_url),
    )
    tenant = type(tenant)(tenant.tenant_id, tenant.api_key, SECRET, "verify", (LINE,))
    with serve(sqlite_url, tenant, tmp_path) as server:
        now = datetime.now(UTC).replace(microsecond=0)
        for wa_id, message_id, at in (
            (WRITES_NOW, "wamid.in.now", now - timedelta(minutes=1)),
            (WROTE_YESTERDAY, "wamid.in.yesterday", now - timedelta(hours=25)),
        ):
            assert server.post_webhook(inbound_body(wa_id, message_id, at)).status_code == 200
        yield server


def test_pywa_gets_a_message_id_inside_the_window_and_re_engagement_outside(
    wawindow: Server, cloud_api: GraphServer
) -> None:
    session = httpx.Client(timeout=30.0)
    wa = WhatsApp(phone_id=LINE, token=wawindow.api_key, session=session, api_version="23.0")
    session.base_url = httpx.URL(f"{wawindow.base_url}/graph/v23.0")
    try:
        sent = wa.send_message(to=WRITES_NOW, text="Your order is on its way")
        assert sent.id == "wamid.GRAPH000001"
        with pytest.raises(ReEngagementMessage) as refused:
            wa.send_message(to=WROTE_YESTERDAY, text="Are you still there?")
        wa.mark_message_as_read(message_id="wamid.in.now")
    finally:
        session.close()
    assert refused.value.code == 131047
    assert refused.value.status_code == 400
    assert "24 hours" in str(refused.value.details)
    assert [r.body.get("to") for r in cloud_api.sends] == [WRITES_NOW]
    assert cloud_api.requests[-1].body["status"] == "read"
    assert cloud_api.requests[0].headers["Authorization"] == "Bearer EAAG-line-token"
    message = wawindow.get("/v1/messages/wamid.GRAPH000001").json()
    assert (message["direction"], message["contact_phone"]) == ("outbound", WRITES_NOW)


def test_a_plain_http_call_is_answered_like_the_cloud_api(
    wawindow: Server, cloud_api: GraphServer
) -> None:
    url = f"{wawindow.base_url}/graph/v23.0/{LINE}/messages"
    headers = {"Authorization": f"Bearer {wawindow.api_key}"}
    body = {"messaging_product": "whatsapp", "to": WRITES_NOW, "text": {"body": "Hi"}}
    with httpx.Client(timeout=30.0) as client:
        answered = client.post(url, json=body, headers=headers)
        refused = client.post(url, json={**body, "to": WROTE_YESTERDAY}, headers=headers)
    assert answered.status_code == 200
    assert answered.json()["messages"][0]["id"].startswith("wamid.")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["message"], error["type"]) == (
        131047,
        "(#131047) Re-engagement message",
        "OAuthException",
    )
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert len(cloud_api.sends) == 1
    assert json.dumps(cloud_api.sends[0].body) == json.dumps(body)
