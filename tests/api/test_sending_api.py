"""``POST /v1/messages`` and ``POST /v1/contacts/{id}/reply`` against a real local Cloud API.

The line's ``graph_base_url`` points at a ``GraphServer`` on a free port of this
machine, which answers like WhatsApp's messages endpoint; what it received is
what wawindow sent. Statuses then arrive as facts, as the webhook would bring them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.api.client import LINE, OTHER_LINE, START, ApiWorld
from tests.support.graph_server import Answer, GraphServer, graph_error, graph_server
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.adapters.whatsapp.client import HttpWhatsAppClient
from wawindow.domain.facts import InboundMessage, Referral, StatusUpdate
from wawindow.domain.identity import Identity
from wawindow.domain.rate_card import parse_rate_card_csv
from wawindow.service.billing import replace_rate_card

WA_ID = "16505551234"
USER = Identity.of(wa_id=WA_ID, name="Sheena")
BSUID = "US.13491208655302741918"
SEND = "/v1/messages"
CARD = """\
market,category,currency,price,effective_from,countries
North America,marketing,USD,0.0250,2024-11-01,US CA
North America,utility,USD,0.0040,2024-11-01,US CA
"""


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


def use_client(world: ApiWorld, **options: Any) -> None:
    """Send through a client with these settings (the previous one is closed)."""
    world.services.whatsapp.close()
    world.services.whatsapp = HttpWhatsAppClient(**options)


def connect_line(
    world: ApiWorld, line: str, base_url: str, token: str | None = "EAAG-token"
) -> None:
    with world.services.engine.begin() as connection:
        connection.execute(
            update(t.lines)
            .where(t.lines.c.phone_number_id == line)
            .values(access_token=token, graph_base_url=base_url)
        )


def add_template(
    world: ApiWorld,
    name: str,
    *,
    category: str = "utility",
    status: str = "APPROVED",
    body: str = "Hello {{1}}, your order {{2}} shipped",
    language: str = "en_US",
    line: str = LINE,
) -> None:
    count = body.count("{{")
    row = {
        "tenant_id": world.mine.id if line == LINE else world.theirs.id,
        "line": line,
        "name": name,
        "language": language,
        "template_id": f"tpl-{name}-{language}",
        "category": category,
        "status": status,
        "body": body,
        "param_count": count,
        "param_names": [],
        "updated_at": START,
    }
    with world.services.engine.begin() as connection:
        connection.execute(t.templates.insert().values(**row))


def inbound(
    world: ApiWorld, minutes_ago: float, message_id: str = "wamid.in1", **extra: Any
) -> None:
    at = world.now - timedelta(minutes=minutes_ago)
    world.ingest(InboundMessage(LINE, message_id, at, USER, "text", **extra))


def load_card(world: ApiWorld) -> None:
    with SqlRateStore(world.services.engine) as store:
        replace_rate_card(store, world.mine.id, parse_rate_card_csv(CARD))


def post_keyed(world: ApiWorld, path: str, body: Any, key: str) -> httpx.Response:
    """POST with an ``Idempotency-Key`` (and the tenant's API key)."""
    headers = {"X-API-Key": world.mine.key, "Idempotency-Key": key}

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=world.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, json=body, headers=headers)

    return asyncio.run(go())


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://wawindow.dev/problems/{slug}"
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


def text_to(to: str = "+1 (650) 555-1234", **extra: Any) -> dict[str, Any]:
    return {"phone_number_id": LINE, "to": to, "text": "Your order is on its way", **extra}


def order_update(**extra: Any) -> dict[str, Any]:
    return {"name": "order_update", "language": "en_US", "parameters": ["Sheena", "A-1"], **extra}


def sends(world: ApiWorld) -> list[Any]:
    with world.services.engine.connect() as connection:
        return list(connection.execute(select(t.sends).order_by(t.sends.c.created_at)))


def deliver(world: ApiWorld, wamid: str, after: timedelta = timedelta(seconds=5)) -> None:
    world.ingest(StatusUpdate(LINE, wamid, "delivered", world.now + after, USER))


# --------------------------------------------------------------------------- free-form


def test_a_text_inside_the_window_is_sent_recorded_and_billed_as_the_dry_run_said(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 30)
    load_card(world)
    quoted = ok(world.post(f"{SEND}?dry_run=true", text_to()))
    assert server.requests == []
    decision = quoted["decision"]
    assert quoted["dry_run"] is True
    assert quoted["recipient"] == WA_ID
    assert decision["allowed"] is True
    assert decision["reason"] == "window_open"
    assert decision["used"] == "free_form"
    assert decision["category"] == "service"
    assert decision["window"] == {
        "open": True,
        "last_inbound_at": "2026-03-10T11:30:00Z",
        "expires_at": "2026-03-11T11:30:00Z",
    }
    assert decision["expected_billing"] == {
        "model": "PMP",
        "category": "service",
        "type": "free_customer_service",
        "billable": False,
        "era": "PMP-1",
        "market": "US",
        "price": "0",
        "currency": "USD",
    }

    sent = ok(world.post(SEND, text_to()))
    assert sent["state"] == "accepted"
    assert sent["message_id"] == "wamid.GRAPH000001"
    assert sent["decision"] == decision
    assert sent["contact_id"] == quoted["contact_id"]
    (request,) = server.requests
    assert request.path == f"/v23.0/{LINE}/messages"
    assert request.headers["Authorization"] == "Bearer EAAG-token"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"body": "Your order is on its way"},
    }

    message = ok(world.get(f"/v1/messages/{sent['message_id']}"))
    assert message["direction"] == "outbound"
    assert message["status"] == "accepted"
    assert message["at"] == "2026-03-10T12:00:00Z"
    assert message["contact_id"] == sent["contact_id"]
    assert message["conversation_id"] is not None
    assert message["billing"] is None  # billed once delivered

    deliver(world, sent["message_id"])
    delivered = ok(world.get(f"/v1/messages/{sent['message_id']}"))
    billing = {k: v for k, v in delivered["billing"].items() if k not in ("source", "drift")}
    assert billing == decision["expected_billing"]
    listed = ok(world.get("/v1/messages", direction="outbound"))
    assert [item["id"] for item in listed["items"]] == [sent["message_id"]]
    conversation = ok(world.get(f"/v1/conversations/{message['conversation_id']}"))
    assert conversation["messages_count"] == 2
    (row,) = sends(world)
    assert (row.state, row.wamid, row.source, row.contact_id) == (
        "accepted",
        "wamid.GRAPH000001",
        "api",
        sent["contact_id"],
    )


def test_free_form_outside_the_window_is_refused_with_the_templates_to_use(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 24 * 60 + 1)
    add_template(world, "order_update")
    add_template(world, "paused_one", status="PAUSED")
    refused = problem(world.post(SEND, text_to()), 403, "window_closed")
    assert refused["last_inbound_at"] == "2026-03-09T11:59:00Z"
    assert refused["expired_at"] == "2026-03-10T11:59:00Z"
    assert fields(refused) == ["body.text"]
    assert [(t["name"], t["language"], t["param_count"]) for t in refused["templates"]] == [
        ("order_update", "en_US", 2)
    ]
    assert server.requests == []
    assert sends(world) == []

    dry = ok(world.post(f"{SEND}?dry_run=true", text_to()))
    assert dry["decision"]["allowed"] is False
    assert dry["decision"]["reason"] == "window_closed"
    assert dry["decision"]["expected_billing"] is None
    assert [t["name"] for t in dry["templates"]] == ["order_update"]


def test_the_send_margin_refuses_free_form_in_the_windows_last_minute(world: ApiWorld) -> None:
    inbound(world, 24 * 60 - 0.5)  # 30 seconds left
    refused = problem(world.post(SEND, text_to()), 403, "window_closed")
    assert refused["expired_at"] == "2026-03-10T12:00:30Z"


def test_the_tenants_send_margin_is_the_one_the_gate_keeps(world: ApiWorld) -> None:
    inbound(world, 24 * 60 - 5)  # 5 minutes left: inside the default 60-second margin
    dry = world.request("POST", SEND, None, json=text_to(), params={"dry_run": "true"})
    assert dry.json()["decision"]["allowed"], dry.text

    changed = world.request("PATCH", "/v1/settings", None, json={"send_margin": "PT10M"})
    assert changed.status_code == 200, changed.text

    refused = problem(world.post(SEND, text_to()), 403, "window_closed")
    assert refused["expired_at"] == "2026-03-10T12:05:00Z"


def test_a_user_who_never_wrote_cannot_get_free_form(world: ApiWorld) -> None:
    refused = problem(world.post(SEND, text_to("+5511998765432")), 403, "window_closed")
    assert refused["last_inbound_at"] is None
    assert refused["expired_at"] is None
    assert "no message from this user yet" in refused["detail"]


def test_other_free_form_types_go_with_their_content(world: ApiWorld, server: GraphServer) -> None:
    inbound(world, 5)
    image = {"link": "https://example.com/receipt.png", "caption": "Your receipt"}
    body = {
        "phone_number_id": LINE,
        "to": WA_ID,
        "type": "image",
        "content": image,
        "reply_to": "wamid.in1",
    }
    sent = ok(world.post(SEND, body))
    assert server.requests[0].body["image"] == image
    assert server.requests[0].body["context"] == {"message_id": "wamid.in1"}
    assert ok(world.get(f"/v1/messages/{sent['message_id']}"))["type"] == "image"
    refused = problem(
        world.post(SEND, {**body, "type": "video", "content": None}), 422, "validation_error"
    )
    assert fields(refused) == ["body.content"]


# --------------------------------------------------------------------------- templates


def test_a_template_goes_outside_the_window_and_is_billed_as_the_dry_run_said(
    world: ApiWorld, server: GraphServer
) -> None:
    add_template(world, "order_update")
    load_card(world)
    body = {"phone_number_id": LINE, "to": WA_ID, "template": order_update()}
    quoted = ok(world.post(f"{SEND}?dry_run=true", body))["decision"]
    assert quoted["reason"] == "template_ok"
    assert quoted["used"] == "template"
    assert quoted["template"] == {
        "name": "order_update",
        "language": "en_US",
        "category": "utility",
    }
    assert quoted["expected_billing"]["type"] == "regular"
    assert quoted["expected_billing"]["price"] == "0.004"

    sent = ok(world.post(SEND, body))
    assert server.requests[0].body["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Sheena"}, {"type": "text", "text": "A-1"}],
            }
        ],
    }
    deliver(world, sent["message_id"])
    message = ok(world.get(f"/v1/messages/{sent['message_id']}"))
    assert message["template"] == {"name": "order_update", "language": "en_US"}
    assert message["category"] == "utility"
    billing = {k: v for k, v in message["billing"].items() if k not in ("source", "drift")}
    assert billing == quoted["expected_billing"]
    conversation = ok(world.get(f"/v1/conversations/{message['conversation_id']}"))
    assert conversation["initiated_by"] == "business"
    status = ok(world.get("/v1/session-status", phone_number_id=LINE, contact_phone=WA_ID))
    assert status["window_active"] is False  # a template does not open the window


def test_named_parameters_go_as_named_parameters(world: ApiWorld, server: GraphServer) -> None:
    add_template(world, "welcome", body="Hi {{first_name}}, welcome to {{shop}}")
    with world.services.engine.begin() as connection:
        connection.execute(
            update(t.templates).values(param_names=["first_name", "shop"], param_count=2)
        )
    template = {"name": "welcome", "parameters": {"first_name": "Sheena", "shop": "Acme"}}
    ok(world.post(SEND, {"phone_number_id": LINE, "to": WA_ID, "template": template}))
    sent = server.requests[0].body["template"]
    assert sent["language"] == {"code": "en_US"}  # the registry's, when none was given
    assert sent["components"][0]["parameters"] == [
        {"type": "text", "parameter_name": "first_name", "text": "Sheena"},
        {"type": "text", "parameter_name": "shop", "text": "Acme"},
    ]


@pytest.mark.parametrize(
    ("template", "status", "slug", "field"),
    [
        (order_update(name="nope"), 422, "template_not_found", "body.template.name"),
        (order_update(name="paused_one"), 403, "template_not_approved", "body.template.name"),
        (
            order_update(language="pt_BR"),
            422,
            "template_language_mismatch",
            "body.template.language",
        ),
        (
            order_update(parameters=["Sheena"]),
            422,
            "template_params_mismatch",
            "body.template.parameters",
        ),
    ],
)
def test_template_problems_name_the_field_and_send_nothing(
    world: ApiWorld,
    server: GraphServer,
    template: dict[str, Any],
    status: int,
    slug: str,
    field: str,
) -> None:
    add_template(world, "order_update")
    add_template(world, "paused_one", status="PAUSED")
    refused = problem(
        world.post(SEND, {"phone_number_id": LINE, "to": WA_ID, "template": template}), status, slug
    )
    assert fields(refused) == [field]
    assert server.requests == []
    if slug == "template_params_mismatch":
        assert (refused["expected"], refused["given"]) == (["2"], ["1"])
    if slug == "template_language_mismatch":
        assert refused["languages"] == ["en_US"]
    if slug == "template_not_approved":
        assert refused["template_status"] == "PAUSED"
    dry = ok(
        world.post(
            f"{SEND}?dry_run=true", {"phone_number_id": LINE, "to": WA_ID, "template": template}
        )
    )
    assert (dry["decision"]["allowed"], dry["decision"]["reason"]) == (False, slug)


# --------------------------------------------------------------------------- smart send


def test_smart_send_uses_the_fallback_template_when_the_window_is_closed(
    world: ApiWorld, server: GraphServer
) -> None:
    add_template(world, "order_update")
    inbound(world, 25 * 60)
    closed = ok(world.post(SEND, text_to(fallback_template=order_update())))
    assert closed["decision"]["used"] == "template"
    assert closed["decision"]["reason"] == "fallback_template"
    assert closed["decision"]["template"]["name"] == "order_update"
    assert server.requests[-1].body["type"] == "template"

    inbound(world, 1, "wamid.in2")
    open_now = ok(world.post(SEND, text_to(fallback_template=order_update())))
    assert open_now["decision"]["used"] == "free_form"
    assert open_now["decision"]["reason"] == "window_open"
    assert server.requests[-1].body["type"] == "text"

    bad = problem(
        world.post(
            SEND, text_to(to="+5511998765432", fallback_template=order_update(parameters=[]))
        ),
        422,
        "template_params_mismatch",
    )
    assert fields(bad) == ["body.fallback_template.parameters"]


# --------------------------------------------------------------------------- idempotency


def test_the_same_key_and_body_answer_the_first_response_without_sending_again(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 5)
    first = post_keyed(world, SEND, text_to(), "order-42")
    again = post_keyed(world, SEND, text_to(), "order-42")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(server.sends) == 1

    other = post_keyed(world, SEND, text_to(text="Something else"), "order-42")
    reused = problem(other, 422, "idempotency_key_reused")
    assert fields(reused) == ["header.Idempotency-Key"]
    assert reused["send_id"] == first.json()["id"]
    assert len(server.sends) == 1

    fresh = post_keyed(world, SEND, text_to(), "order-43")
    assert fresh.json()["message_id"] != first.json()["message_id"]
    assert len(server.sends) == 2


def test_a_failed_send_is_answered_again_as_it_failed(world: ApiWorld, server: GraphServer) -> None:
    inbound(world, 5)
    server.script(
        graph_error(
            131026,
            "(#131026) Message undeliverable",
            "Receiver is incapable of receiving this message",
        )
    )
    key = "k-1"
    failed = problem(post_keyed(world, SEND, text_to(), key), 400, "whatsapp_error")
    assert failed["title"] == "Message undeliverable"
    assert failed["detail"] == "Receiver is incapable of receiving this message"
    assert failed["state"] == "failed"
    assert failed["whatsapp_error"] == {
        "http_status": 400,
        "code": 131026,
        "error_subcode": None,
        "type": "OAuthException",
        "title": "Message undeliverable",
        "message": "(#131026) Message undeliverable",
        "details": "Receiver is incapable of receiving this message",
        "fbtrace_id": "Atrace131026",
    }
    again = post_keyed(world, SEND, text_to(), key)
    assert again.status_code == 400
    assert again.json() == failed
    assert len(server.sends) == 1
    (row,) = sends(world)
    assert row.state == "failed"
    assert ok(world.get("/v1/messages", direction="outbound"))["items"] == []


# --------------------------------------------------------------------------- retries and outcomes


def test_a_5xx_then_success_records_exactly_one_message(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 5)
    server.script(Answer(500, {"error": {"message": "An unknown error occurred", "code": 1}}))
    sent = ok(world.post(SEND, text_to()))
    assert len(server.requests) == 2
    outbound = ok(world.get("/v1/messages", direction="outbound"))["items"]
    assert [item["id"] for item in outbound] == [sent["message_id"]]
    assert [row.state for row in sends(world)] == ["accepted"]


def test_no_answer_after_the_request_left_is_an_unknown_outcome_never_repeated(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 5)
    use_client(world, read_timeout=0.3, backoff=0.0)
    server.script(Answer(delay=5.0))
    key = "slow-1"
    unknown = problem(post_keyed(world, SEND, text_to(), key), 504, "send_outcome_unknown")
    assert unknown["state"] == "unknown"
    assert "ReadTimeout" in unknown["reason"]
    again = post_keyed(world, SEND, text_to(), key)
    assert again.status_code == 504
    assert len(server.requests) == 1
    (row,) = sends(world)
    assert (row.state, row.wamid) == ("unknown", None)


def test_an_unreachable_whatsapp_is_a_502_and_nothing_was_sent(world: ApiWorld) -> None:
    inbound(world, 5)
    connect_line(world, LINE, "http://127.0.0.1:9")  # the discard port: nothing listens
    use_client(world, attempts=2, backoff=0.0)
    failed = problem(world.post(SEND, text_to()), 502, "whatsapp_unreachable")
    assert failed["state"] == "failed"
    assert [row.state for row in sends(world)] == ["failed"]


def test_a_line_without_an_access_token_cannot_send(world: ApiWorld) -> None:
    inbound(world, 5)
    connect_line(world, LINE, "http://127.0.0.1:9", token=None)
    refused = problem(world.post(SEND, text_to()), 409, "line_without_access_token")
    assert fields(refused) == ["body.phone_number_id"]
    assert ok(world.post(f"{SEND}?dry_run=true", text_to()))["decision"]["allowed"] is True


# --------------------------------------------------------------------------- recipients


def test_a_contact_id_or_a_bsuid_names_the_recipient(world: ApiWorld, server: GraphServer) -> None:
    inbound(world, 5)
    contact_id = ok(world.get("/v1/contacts", phone=WA_ID))["items"][0]["id"]
    by_id = ok(world.post(SEND, {"phone_number_id": LINE, "contact_id": contact_id, "text": "Hi"}))
    assert by_id["contact_id"] == contact_id
    assert server.requests[-1].body["to"] == WA_ID

    hidden = Identity.of(bsuid=BSUID)
    world.ingest(
        InboundMessage(LINE, "wamid.in9", world.now - timedelta(minutes=1), hidden, "text")
    )
    by_bsuid = ok(world.post(SEND, {"phone_number_id": LINE, "bsuid": BSUID, "text": "Hi"}))
    assert server.requests[-1].body["recipient"] == BSUID
    assert "to" not in server.requests[-1].body
    assert by_bsuid["recipient"] == BSUID


def test_another_tenants_line_or_contact_is_not_found(world: ApiWorld) -> None:
    inbound(world, 5)
    contact_id = ok(world.get("/v1/contacts", phone=WA_ID))["items"][0]["id"]
    line = problem(world.post(SEND, text_to(phone_number_id=OTHER_LINE)), 404, "not_found")
    assert fields(line) == ["body.phone_number_id"]
    theirs = world.theirs.key
    contact = world.post(
        SEND, {"phone_number_id": OTHER_LINE, "contact_id": contact_id, "text": "x"}, key=theirs
    )
    assert fields(problem(contact, 404, "not_found")) == ["body.contact_id"]
    reply = world.post(f"/v1/contacts/{contact_id}/reply", {"text": "x"}, key=theirs)
    assert fields(problem(reply, 404, "not_found")) == ["path.contact_id"]
    dry = world.post(f"{SEND}?dry_run=true", text_to(phone_number_id=OTHER_LINE))
    assert fields(problem(dry, 404, "not_found")) == ["body.phone_number_id"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"to": WA_ID, "bsuid": BSUID, "text": "x"}, ["body.to", "body.bsuid"]),
        ({"text": "x"}, ["body.to", "body.contact_id", "body.bsuid"]),
        ({"to": WA_ID}, ["body.text", "body.type", "body.template"]),
        ({"to": WA_ID, "text": "x", "template": order_update()}, ["body.text", "body.template"]),
        ({"to": WA_ID, "content": {"body": "x"}, "text": "y"}, ["body.type"]),
        (
            {"to": WA_ID, "template": order_update(), "fallback_template": order_update()},
            ["body.fallback_template"],
        ),
        ({"to": "12", "text": "x"}, ["body.to"]),
        ({"to": WA_ID, "text": ""}, ["body.text"]),
        ({"to": WA_ID, "text": "x", "colour": "red"}, ["body.colour"]),
        ({"to": WA_ID, "type": "template", "content": {}}, ["body.type"]),
    ],
)
def test_a_malformed_request_names_its_fields(
    world: ApiWorld, body: dict[str, Any], named: list[str]
) -> None:
    refused = problem(world.post(SEND, {"phone_number_id": LINE, **body}), 422, "validation_error")
    assert fields(refused) == named


# --------------------------------------------------------------------------- reply


def test_reply_goes_to_the_contacts_only_line_inside_the_window(
    world: ApiWorld, server: GraphServer
) -> None:
    inbound(world, 5)
    contact_id = ok(world.get("/v1/contacts", phone=WA_ID))["items"][0]["id"]
    replied = ok(world.post(f"/v1/contacts/{contact_id}/reply", {"text": "On it!"}))
    assert replied["source"] == "reply"
    assert replied["phone_number_id"] == LINE
    assert server.requests[-1].body["text"] == {"body": "On it!"}

    world.now += timedelta(hours=25)
    closed = problem(
        world.post(f"/v1/contacts/{contact_id}/reply", {"text": "Hello?"}), 403, "window_closed"
    )
    assert fields(closed) == ["body.text"]
    assert len(server.sends) == 1


def test_reply_needs_a_line_when_the_contact_has_none_or_several(
    world: ApiWorld, server: GraphServer
) -> None:
    created = world.post("/v1/contacts", {"phone": "+5511998765432"})
    assert created.status_code == 201, created.text
    stored = created.json()
    refused = problem(
        world.post(f"/v1/contacts/{stored['id']}/reply", {"text": "Hi"}), 422, "validation_error"
    )
    assert fields(refused) == ["body.phone_number_id"]
    explicit = world.post(
        f"/v1/contacts/{stored['id']}/reply", {"text": "Hi", "phone_number_id": LINE}
    )
    problem(explicit, 403, "window_closed")  # the line is known now; the window is closed
    missing = problem(world.post("/v1/contacts/ct_nobody/reply", {"text": "Hi"}), 404, "not_found")
    assert fields(missing) == ["path.contact_id"]


# --------------------------------------------------------------------------- the free entry point


def test_a_template_in_a_free_entry_point_is_expected_free(world: ApiWorld) -> None:
    add_template(world, "promo", category="marketing", body="Deals for you")
    referral = Referral(source_type="ad", source_id="ad-1", source_url="https://fb.me/x")
    inbound(world, 60, referral=referral)
    first = ok(world.post(SEND, text_to()))
    assert first["decision"]["expected_billing"]["type"] == "free_entry_point"
    world.now += timedelta(days=2)  # the window closed, the entry point runs 72 hours
    promo = {"phone_number_id": LINE, "to": WA_ID, "template": {"name": "promo"}}
    quoted = ok(world.post(f"{SEND}?dry_run=true", promo))["decision"]
    assert quoted["window"]["open"] is False
    assert quoted["expected_billing"]["type"] == "free_entry_point"
    assert quoted["expected_billing"]["billable"] is False


def test_the_openapi_document_describes_sending(world: ApiWorld) -> None:
    document = ok(world.get("/openapi.json"))
    send = document["paths"]["/v1/messages"]["post"]
    assert {"200", "403", "404", "409", "422", "429", "502", "504"} <= set(send["responses"])
    assert "Idempotency-Key" in [p["name"] for p in send["parameters"]]
    assert "dry_run" in [p["name"] for p in send["parameters"]]
    assert "/v1/contacts/{contact_id}/reply" in document["paths"]
    assert "SendMessageIn" in document["components"]["schemas"]
