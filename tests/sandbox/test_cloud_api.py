"""The sandbox's Cloud API over real HTTP: what it answers, and the signed webhooks it
posts to a real receiver, each read back by wawindow's own parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.sandbox.conftest import MARCH_2026
from tests.support.sandbox import (
    LINE,
    VERSION,
    RunningSandbox,
    WebhookReceiver,
    running_sandbox,
    sandbox_settings,
    wait_until,
)
from wawindow.adapters.meta.payload import parse_webhook
from wawindow.domain.facts import (
    InboundMessage,
    ProviderConversation,
    ProviderPricing,
    StatusUpdate,
)

USER = "16505551234"
FREE_SERVICE = ProviderPricing(False, "PMP", "service", "free_customer_service")


def statuses(receiver: WebhookReceiver, count: int) -> list[StatusUpdate]:
    """The status facts of the first ``count`` posts that are statuses."""
    found: list[StatusUpdate] = []

    def collect() -> bool:
        found.clear()
        for body in receiver.bodies():
            parsed = parse_webhook(body)
            assert parsed.skipped == (), parsed.skipped
            found.extend(f for f in parsed.facts if isinstance(f, StatusUpdate))
        return len(found) >= count

    wait_until(collect, what=f"{count} statuses")
    return found[:count]


def error_of(answer: Any) -> dict[str, Any]:
    document: dict[str, Any] = answer.json()
    assert set(document) == {"error"}
    error: dict[str, Any] = document["error"]
    assert error["type"] in ("OAuthException", "GraphMethodException")
    assert isinstance(error["fbtrace_id"], str)
    assert error["fbtrace_id"]
    return error


# --------------------------------------------------------------------------- sending


def test_a_reply_in_the_window_gets_sent_delivered_read_signed_in_order(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    inbound = sandbox.inbound(**{"from": USER, "text": "Is my order on its way?", "name": "Sheena"})
    answer = sandbox.text(USER, "Yes, tomorrow.")
    assert answer.status_code == 200
    document = answer.json()
    wamid = document["messages"][0]["id"]
    assert document == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": USER, "wa_id": USER}],
        "messages": [{"id": wamid}],
    }
    assert wamid.startswith("wamid.")
    sent, delivered, read = statuses(receiver, 3)
    assert all(post.signed_ok for post in receiver.posts)
    assert [(s.message_id, s.status) for s in (sent, delivered, read)] == [
        (wamid, "sent"),
        (wamid, "delivered"),
        (wamid, "read"),
    ]
    assert sent.at == delivered.at == read.at == MARCH_2026
    assert sent.pricing == delivered.pricing == FREE_SERVICE
    assert read.pricing is None  # Meta prices sent and one of delivered/read
    assert sent.conversation is None  # PMP: no conversation outside a free entry point
    assert delivered.user.wa_id == USER
    assert delivered.user.bsuid == inbound["user_id"]
    posts = receiver.documents()
    assert posts[0] == inbound["body"]


def test_free_form_outside_the_window_fails_by_webhook_with_131047(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    answer = sandbox.text(USER, "Hello stranger")
    assert answer.status_code == 200  # accepted; the failure comes by webhook, as on WhatsApp
    wamid = answer.json()["messages"][0]["id"]
    [failed] = statuses(receiver, 1)
    assert failed.message_id == wamid
    assert failed.status == "failed"
    assert [(e.code, e.title) for e in failed.errors] == [(131047, "Re-engagement message")]
    assert "contacts" not in receiver.documents()[0]["entry"][0]["changes"][0]["value"]
    sandbox.settle()
    logged = sandbox.client.get(f"/sandbox/messages/{wamid}").json()
    assert logged["outcome"] == "failed"
    assert logged["error"]["code"] == 131047
    assert [s["status"] for s in logged["statuses"]] == ["failed"]
    assert len(receiver.posts) == 1


def test_a_day_later_free_form_fails_and_a_template_is_billed(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.inbound(**{"from": USER, "text": "hi"})
    clock = sandbox.advance(24 * 3600)
    assert clock["now"] == "2026-03-11T10:00:00Z"
    assert sandbox.text(USER).status_code == 200
    template = sandbox.template(USER)
    assert template.json()["messages"][0]["message_status"] == "accepted"
    failed, sent, delivered, _ = statuses(receiver, 4)
    assert failed.status == "failed"
    assert failed.at == MARCH_2026 + timedelta(days=1)
    assert (sent.status, delivered.status) == ("sent", "delivered")
    # hello_world is a utility template; outside the window in PMP-1 it is billed.
    assert delivered.pricing == ProviderPricing(True, "PMP", "utility", "regular")


def test_template_errors_are_the_ones_whatsapp_gives(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    listing = {
        "data": [
            {
                "name": "order_update",
                "language": "en_US",
                "status": "APPROVED",
                "category": "UTILITY",
                "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} ships today."}],
            },
            {
                "name": "winter_sale",
                "language": "en_US",
                "status": "PAUSED",
                "category": "MARKETING",
            },
            {"name": "draft", "language": "en_US", "status": "PENDING", "category": "MARKETING"},
        ]
    }
    loaded = sandbox.client.post("/sandbox/templates", json=listing)
    assert loaded.status_code == 200
    assert loaded.json() == {"loaded": 3, "errors": [], "templates": 4}

    def send(name: str, language: str = "en_US", *params: str) -> Any:
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if params:
            parameters = [{"type": "text", "text": p} for p in params]
            template["components"] = [{"type": "body", "parameters": parameters}]
        body = {
            "messaging_product": "whatsapp",
            "to": USER,
            "type": "template",
            "template": template,
        }
        return sandbox.send(body)

    unknown = send("no_such_template")
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == 132001
    assert error_of(unknown)["error_data"] == {
        "messaging_product": "whatsapp",
        "details": "template name (no_such_template) does not exist in en_US",
    }
    wrong_language = send("order_update", "pt_BR", "Ann", "A-7")
    assert (wrong_language.status_code, error_of(wrong_language)["code"]) == (404, 132001)
    pending = send("draft")
    assert (pending.status_code, error_of(pending)["code"]) == (404, 132001)
    paused = send("winter_sale")
    assert (paused.status_code, error_of(paused)["code"]) == (400, 132015)
    short = send("order_update", "en_US", "Ann")
    assert (short.status_code, error_of(short)["code"]) == (400, 132000)
    assert "1 given" in error_of(short)["error_data"]["details"]
    good = send("order_update", "en_US", "Ann", "A-7")
    assert good.status_code == 200, good.text
    assert sandbox.client.get("/sandbox/templates").json()["data"][1]["name"] == "order_update"
    _, delivered, _ = statuses(receiver, 3)
    assert delivered.pricing == ProviderPricing(True, "PMP", "utility", "regular")
    sandbox.settle()
    assert len(sandbox.messages()["data"]) == 1  # refused requests leave nothing behind


def test_template_categories_come_from_the_sandbox_list(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    listing = [
        {"name": "flash_sale", "language": "es", "status": "APPROVED", "category": "MARKETING"}
    ]
    assert sandbox.client.post("/sandbox/templates", json=listing).status_code == 200
    sandbox.inbound(**{"from": USER, "text": "hola"})
    assert sandbox.template(USER, "flash_sale", "es").status_code == 200
    _, delivered, _ = statuses(receiver, 3)
    assert delivered.pricing == ProviderPricing(True, "PMP", "marketing", "regular")
    malformed = sandbox.client.post("/sandbox/templates", json={"data": [{"name": "x"}, 5]})
    assert malformed.json()["errors"] == [
        {"index": 0, "message": "language is missing"},
        {"index": 1, "message": "not an object"},
    ]
    not_a_listing = sandbox.client.post("/sandbox/templates", json={"templates": []})
    assert not_a_listing.status_code == 422
    assert not_a_listing.json()["errors"][0]["field"] == "body.data"


def test_graph_lists_the_templates_of_the_account(sandbox: RunningSandbox) -> None:
    answer = sandbox.client.get(
        f"/{VERSION}/102290129340398/message_templates",
        headers={"Authorization": "Bearer t"},
    )
    assert answer.status_code == 200
    assert [t["name"] for t in answer.json()["data"]] == ["hello_world"]
    other = sandbox.client.get(
        f"/{VERSION}/999/message_templates", headers={"Authorization": "Bearer t"}
    )
    assert (other.status_code, error_of(other)["code"]) == (400, 100)


# --------------------------------------------------------------------------- refused requests


def test_invalid_requests_get_whatsapps_400_naming_the_field(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    answer = sandbox.send({"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {}})
    assert answer.status_code == 400
    error = error_of(answer)
    assert error == {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": "The parameter text['body'] is required.",
        },
        "fbtrace_id": error["fbtrace_id"],
    }
    not_json = sandbox.client.post(
        f"/{VERSION}/{LINE}/messages",
        content=b"{not json",
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert error_of(not_json)["error_data"]["details"] == "The request body is not valid JSON."
    bad_line = sandbox.send(
        {"messaging_product": "whatsapp", "to": USER, "text": {"body": "x"}}, line="abc"
    )
    assert (bad_line.status_code, error_of(bad_line)["error_subcode"]) == (400, 33)
    bad_version = sandbox.client.post(
        f"/latest/{LINE}/messages", json={}, headers={"Authorization": "Bearer t"}
    )
    assert bad_version.status_code == 400
    sandbox.settle()
    assert sandbox.messages()["data"] == []
    assert receiver.posts == []


def test_only_the_configured_access_token_is_accepted(receiver: WebhookReceiver) -> None:
    settings = sandbox_settings(receiver, access_token="EAAG-secret")
    with running_sandbox(settings) as sandbox:
        wrong = sandbox.send(
            {"messaging_product": "whatsapp", "to": USER, "text": {"body": "x"}}, token="nope"
        )
        assert wrong.status_code == 401
        assert error_of(wrong)["code"] == 190
        assert (
            error_of(wrong)["message"] == "Invalid OAuth access token - Cannot parse access token"
        )
        missing = sandbox.client.post(f"/{VERSION}/{LINE}/messages", json={})
        assert (missing.status_code, error_of(missing)["code"]) == (401, 190)
        right = sandbox.send(
            {
                "messaging_product": "whatsapp",
                "to": USER,
                "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}},
            },
            token="EAAG-secret",
        )
        assert right.status_code == 200
        as_query = sandbox.client.post(
            f"/{VERSION}/{LINE}/messages?access_token=EAAG-secret",
            json={"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x"},
        )
        assert as_query.json() == {"success": True}


def test_any_token_is_accepted_when_none_is_configured(sandbox: RunningSandbox) -> None:
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x"}
    assert sandbox.send(read, token="whatever").status_code == 200


# --------------------------------------------------------------------------- users and reads


def test_mark_as_read_answers_success_and_marks_the_message(sandbox: RunningSandbox) -> None:
    inbound = sandbox.inbound(**{"from": USER, "text": "hello"})
    answer = sandbox.send(
        {"messaging_product": "whatsapp", "status": "read", "message_id": inbound["id"]}
    )
    assert answer.json() == {"success": True}
    assert sandbox.client.get(f"/sandbox/messages/{inbound['id']}").json()["read"] is True


def test_a_hidden_number_user_is_reached_by_bsuid(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    bsuid = "US.13491208655302741918"
    inbound = sandbox.inbound(from_user_id=bsuid, text="hi", name="Ann", username="ann.w")
    message = inbound["body"]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert "from" not in message
    assert message["from_user_id"] == bsuid
    [fact] = [f for f in parse_webhook(receiver.bodies()[0]).facts if isinstance(f, InboundMessage)]
    assert (fact.user.wa_id, fact.user.bsuid) == (None, bsuid)
    answer = sandbox.send(
        {"messaging_product": "whatsapp", "recipient": bsuid, "text": {"body": "Hi Ann"}}
    )
    assert answer.json()["contacts"] == [{"input": bsuid, "user_id": bsuid}]
    sent, _, _ = statuses(receiver, 3)
    assert (sent.user.wa_id, sent.user.bsuid) == (None, bsuid)
    assert sent.pricing == FREE_SERVICE
    status = receiver.documents()[1]["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert "recipient_id" not in status
    assert status["recipient_user_id"] == bsuid


def test_a_phone_user_and_their_bsuid_are_one_user(sandbox: RunningSandbox) -> None:
    first = sandbox.inbound(**{"from": "+1 650-555-1234", "text": "hi"})
    assert first["wa_id"] == USER
    assert first["user_id"].startswith("US.")
    # The business replies to the BSUID: same user, same (open) window.
    answer = sandbox.send(
        {"messaging_product": "whatsapp", "recipient": first["user_id"], "text": {"body": "yes?"}}
    )
    sandbox.settle()
    logged = sandbox.client.get(f"/sandbox/messages/{answer.json()['messages'][0]['id']}").json()
    assert (logged["outcome"], logged["wa_id"]) == ("delivered", USER)


def test_an_answered_ad_gets_free_entry_point_pricing(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    ad = sandbox.inbound(
        **{"from": USER, "text": "I saw your ad", "referral": {"source_id": "AD-1"}}
    )
    referral = ad["body"]["entry"][0]["changes"][0]["value"]["messages"][0]["referral"]
    assert referral["source_type"] == "ad"
    assert referral["source_id"] == "AD-1"
    assert referral["ctwa_clid"]
    sandbox.advance(3600)
    assert sandbox.text(USER, "Welcome!").status_code == 200
    sent, delivered, _ = statuses(receiver, 3)
    opened = MARCH_2026 + timedelta(hours=1)
    assert sent.conversation == ProviderConversation(
        sent.conversation.id if sent.conversation else None,
        opened + timedelta(hours=72),
        "referral_conversion",
    )
    assert delivered.pricing == ProviderPricing(False, "PMP", "service", "free_entry_point")
    chats = sandbox.client.get("/sandbox/chats").json()["data"]
    assert chats[0]["free_entry_point"]["expires_at"] == "2026-03-13T11:00:00Z"


def test_cbp_statuses_name_the_billing_conversation(receiver: WebhookReceiver) -> None:
    start = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    settings = sandbox_settings(receiver, start_at=start, frozen_clock=True)
    with running_sandbox(settings) as sandbox:
        sandbox.inbound(**{"from": USER, "text": "hi"})
        sandbox.advance(300)
        sandbox.text(USER, "hello")
        sent, delivered, read = statuses(receiver, 3)
        assert sent.conversation is not None
        assert sent.conversation.expires_at == start + timedelta(minutes=5, hours=24)
        assert sent.conversation.origin_type == "service"
        assert delivered.conversation == ProviderConversation(sent.conversation.id, None, "service")
        assert delivered.pricing == ProviderPricing(False, "CBP", "service", None)
        assert read.conversation is None
        assert sandbox.client.get("/sandbox/clock").json()["era"] == "CBP"


def test_opaque_callback_data_comes_back_on_every_status(
    sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    body = {
        "messaging_product": "whatsapp",
        "to": USER,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
        "biz_opaque_callback_data": "order-7/tracking",
    }
    sandbox.send(body)
    statuses(receiver, 3)
    values = [d["entry"][0]["changes"][0]["value"]["statuses"][0] for d in receiver.documents()]
    assert [v["biz_opaque_callback_data"] for v in values] == ["order-7/tracking"] * 3
    assert b"order-7\\/tracking" in receiver.bodies()[0]


def test_the_openapi_document_describes_both_faces(sandbox: RunningSandbox) -> None:
    paths = sandbox.client.get("/openapi.json").json()["paths"]
    assert "/{version}/{phone_number_id}/messages" in paths
    for path in (
        "/sandbox/inbound",
        "/sandbox/call",
        "/sandbox/clock",
        "/sandbox/faults",
        "/sandbox/messages",
    ):
        assert path in paths
