"""The sandbox and a real ``wawindow serve``, both real processes, over real HTTP.

The sandbox posts signed webhooks to serve's ``/webhooks/meta`` with the line's app
secret; what a user does in the sandbox, wawindow then knows. The sandbox's clock
starts at the wall clock (serve's), and is then moved a day ahead: what WhatsApp
does a day later (a free-form message fails with 131047) arrives by webhook and is
recorded by wawindow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.sandbox import RunningSandbox, sandbox_process, wait_until
from tests.support.server import DEFAULT_LINE, Server, wawindow_server

USER = "16505551234"


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wawindow.db'}"


def wawindow_message(server: Server, contact_id: str, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def recorded() -> bool:
        answer = server.get("/v1/messages", contact_id=contact_id, page_size=100)
        assert answer.status_code == 200, answer.text
        found.update({m["id"]: m for m in answer.json()["items"]})
        return message_id in found

    wait_until(recorded, what=f"wawindow to record {message_id}")
    return found[message_id]


def statuses_delivered(sandbox: RunningSandbox, message_id: str) -> list[str]:
    """Wait until every status webhook of the message was answered 200 by serve."""

    def done() -> bool:
        statuses = sandbox.client.get(f"/sandbox/messages/{message_id}").json()["statuses"]
        return all(s["webhook"]["state"] != "pending" for s in statuses)

    wait_until(done, what=f"the webhooks of {message_id}")
    logged = sandbox.client.get(f"/sandbox/messages/{message_id}").json()
    assert all(s["webhook"]["state"] == "delivered" for s in logged["statuses"]), logged
    return [s["status"] for s in logged["statuses"]]


def test_a_user_writes_in_the_sandbox_and_a_day_later_free_form_fails_with_131047(
    tmp_path: Path,
) -> None:
    with wawindow_server(sqlite(tmp_path), tmp_path / "serve") as server:
        args = [
            "--webhook-url", f"{server.base_url}/webhooks/meta",
            "--app-secret", server.app_secret,
            "--status-delay", "0.05",
            "--seed", "11",
        ]  # fmt: skip
        with sandbox_process(tmp_path / "sandbox", *args) as sandbox:
            inbound = sandbox.inbound(
                phone_number_id=DEFAULT_LINE, **{"from": USER, "text": "Where is my order?"}
            )
            assert inbound["webhook"]["state"] == "delivered"
            assert inbound["webhook"]["status_code"] == 200  # serve stored it before answering

            session = server.get(
                "/v1/session-status", phone_number_id=DEFAULT_LINE, contact_phone=f"+{USER}"
            )
            assert session.status_code == 200, session.text
            status = session.json()
            assert status["window_active"] is True
            assert status["can_send"]["free_form"] is True
            contact_id = status["contact_id"]

            reply = sandbox.text(USER, "Tomorrow!", line=DEFAULT_LINE).json()["messages"][0]["id"]
            assert statuses_delivered(sandbox, reply) == ["sent", "delivered", "read"]
            recorded = wawindow_message(server, contact_id, reply)
            assert recorded["status"] == "read"
            assert recorded["billing"]["source"] == "provider"
            assert recorded["billing"]["type"] == "free_customer_service"

            clock = sandbox.advance(24 * 3600 + 60)
            assert clock["offset_seconds"] >= 24 * 3600
            late = sandbox.text(USER, "Still there?", line=DEFAULT_LINE).json()["messages"][0]["id"]
            assert statuses_delivered(sandbox, late) == ["failed"]
            failed = wawindow_message(server, contact_id, late)
            assert failed["status"] == "failed"
            assert [(e["code"], e["title"]) for e in failed["errors"]] == [
                (131047, "Re-engagement message")
            ]
            assert failed["drift"] == []  # wawindow's window had closed too

            template = sandbox.template(USER, line=DEFAULT_LINE).json()["messages"][0]["id"]
            assert statuses_delivered(sandbox, template) == ["sent", "delivered", "read"]
            billed = wawindow_message(server, contact_id, template)
            assert billed["billing"]["source"] == "provider"
            assert billed["billing"]["category"] == "utility"
            assert billed["billing"]["billable"] is True
            assert billed["drift"] == []


def test_a_user_with_a_hidden_number_and_a_call_reach_wawindow(
    tmp_path: Path,
) -> None:
    bsuid = "US.13491208655302741918"
    with wawindow_server(sqlite(tmp_path), tmp_path / "serve") as server:
        args = [
            "--webhook-url",
            f"{server.base_url}/webhooks/meta",
            "--app-secret",
            server.app_secret,
        ]
        with sandbox_process(tmp_path / "sandbox", *args) as sandbox:
            call = sandbox.client.post(
                "/sandbox/call", json={"phone_number_id": DEFAULT_LINE, "from_user_id": bsuid}
            )
            assert call.json()["webhook"]["status_code"] == 200
            session = server.get(
                "/v1/session-status", phone_number_id=DEFAULT_LINE, contact_bsuid=bsuid
            ).json()
            assert session["window_active"] is True
            ad = sandbox.inbound(
                phone_number_id=DEFAULT_LINE,
                from_user_id=bsuid,
                text="I saw your ad",
                referral={"source_id": "AD-9"},
            )
            assert ad["webhook"]["status_code"] == 200
            welcome = sandbox.send(
                {"messaging_product": "whatsapp", "recipient": bsuid, "text": {"body": "Hi!"}},
                line=DEFAULT_LINE,
            ).json()["messages"][0]["id"]
            assert statuses_delivered(sandbox, welcome) == ["sent", "delivered", "read"]
            after = server.get(
                "/v1/session-status", phone_number_id=DEFAULT_LINE, contact_bsuid=bsuid
            ).json()
            assert after["free_entry_point"]["active"] is True
            recorded = wawindow_message(server, after["contact_id"], welcome)
            assert recorded["billing"]["type"] == "free_entry_point"
            assert recorded["drift"] == []
