"""Sending end to end: a real ``wawindow serve`` and a real ``wawindow sandbox``.

Both run as processes and speak real HTTP (``tests/support/serve_with_sandbox.py``):
the line sends to the sandbox with the sandbox's access token, the sandbox posts
signed webhooks back with the line's app secret, and serve follows the sandbox's
clock, frozen at a chosen instant and moved ahead by the test, so "a day later"
and "in another pricing era" take no waiting. A user writes in the sandbox;
wawindow sends through its gate (``POST /v1/messages``, the reply endpoint, the
Graph proxy); the sandbox answers and prices as WhatsApp would, and what it
reports (statuses, ``pricing``) reaches wawindow by webhook. Each test checks
that wawindow's own estimate and what WhatsApp reports agree: no drift.

The two processes are started once for the module (on this shared machine a
process takes seconds to start). Each test has its own user, so its window, free
entry point and conversations are its own, and sets the clock where it starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.serve_with_sandbox import ACCESS_TOKEN, Wired, iso, serve_with_sandbox

MARCH_2026 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # PMP-1
MAY_2025 = datetime(2025, 5, 14, 10, 0, tzinfo=UTC)  # CBP
OCTOBER_2026 = datetime(2026, 10, 13, 10, 0, tzinfo=UTC)  # PMP-2
CBP_DAY = datetime(2025, 5, 20, 10, 0, tzinfo=UTC)  # days of their own for billing summaries
PMP_1_DAY = datetime(2025, 8, 20, 10, 0, tzinfo=UTC)
PMP_2_DAY = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
DAY = 24 * 3600

ORDER_UPDATE = {
    "name": "order_update",
    "language": "en_US",
    "status": "APPROVED",
    "category": "UTILITY",
    "id": "730000000000001",
    "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships today."}],
}
SPRING_SALE = {
    "name": "spring_sale",
    "language": "en_US",
    "status": "APPROVED",
    "category": "MARKETING",
    "id": "730000000000002",
    "components": [{"type": "BODY", "text": "{{1}}, 20% off everything this week."}],
}
OLD_PROMO = {
    "name": "old_promo",
    "language": "en_US",
    "status": "PAUSED",
    "category": "MARKETING",
    "id": "730000000000003",
    "components": [{"type": "BODY", "text": "Last chance!"}],
}
TEMPLATES = (ORDER_UPDATE, SPRING_SALE, OLD_PROMO)
RETIRED_OFFER = {
    "name": "retired_offer",
    "language": "en_US",
    "category": "marketing",
    "body": "{{1}}, your offer ends soon.",
}
RATE_CARD = """\
market,category,currency,price,effective_from,countries
North America,marketing,USD,0.0250,2024-11-01,US CA
North America,utility,USD,0.0040,2024-11-01,
North America,marketing,USD,0.0300,2025-07-01,
North America,utility,USD,0.0035,2025-07-01,
"""


def order_update(*values: str) -> dict[str, Any]:
    return {
        "name": "order_update",
        "language": "en_US",
        "parameters": list(values or ("Sheena", "A-1")),
    }


def spring_sale() -> dict[str, Any]:
    return {"name": "spring_sale", "language": "en_US", "parameters": ["Sheena"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wired]:
    """Serve and the sandbox, with the templates on both sides and a rate card; and one
    template WhatsApp no longer has but wawindow was not told (``RETIRED_OFFER``)."""
    workdir = tmp_path_factory.mktemp("serve-with-sandbox")
    database_url = f"sqlite:///{workdir / 'wawindow.db'}"
    with serve_with_sandbox(
        database_url, workdir, start_at=MARCH_2026, templates=TEMPLATES, rate_card=RATE_CARD
    ) as running:
        created = running.post("/v1/templates", {"phone_number_id": running.line, **RETIRED_OFFER})
        assert created.status_code == 201, created.text
        yield running


@pytest.fixture
def wired(world: Wired) -> Wired:
    """Both clocks at Tuesday 2026-03-10 10:00 UTC (PMP-1), frozen."""
    world.set_clock(MARCH_2026)
    return world


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def recorded_billing(message: dict[str, Any]) -> dict[str, Any]:
    """A message's billing as the dry run words its expectation (no source, no drift)."""
    billing = message["billing"]
    assert billing is not None, message
    return {k: v for k, v in billing.items() if k not in ("source", "drift")}


def as_reported(billing: dict[str, Any]) -> dict[str, Any]:
    """wawindow's billing in the words of the ``pricing`` object WhatsApp (the sandbox) sent."""
    return {
        "billable": billing["billable"],
        "pricing_model": billing["model"],
        "category": billing["category"],
        "type": billing["type"],
    }


def assert_billed_as_reported(wired: Wired, message_id: str, expected: dict[str, Any]) -> None:
    """Once read, the message is billed as the dry run said, as the sandbox reported, no drift."""
    message = wired.message(message_id)
    assert [event["status"] for event in message["timeline"]] == ["sent", "delivered", "read"]
    assert recorded_billing(message) == expected
    assert message["billing"]["source"] == "provider"
    assert message["billing"]["drift"] == []
    assert message["drift"] == []
    reported, ours = wired.sent(message_id)["pricing"], as_reported(message["billing"])
    if reported["pricing_model"] == "CBP":
        # Meta's CBP pricing has no type, and marks every message of a paid conversation
        # billable; wawindow bills only the one that opens it (docs/rules.md, "Pricing").
        paid_conversation = reported["billable"]
        assert paid_conversation == (ours["category"] in ("marketing", "utility", "authentication"))
        assert paid_conversation or not ours["billable"]
        ours.update(type=None, billable=paid_conversation)
    assert reported == ours


# --------------------------------------------------------------------------- inside the window


def test_a_user_writes_and_a_free_form_reply_is_sent_delivered_read_and_billed_free(
    wired: Wired,
) -> None:
    user = "16505550101"
    inbound = wired.inbound(user, "Where is my order?")
    status = wired.session(user)
    assert status["window_active"] is True
    assert status["can_send"]["free_form"] is True
    assert status["last_inbound_at"] == "2026-03-10T10:00:00Z"
    assert status["expires_at"] == "2026-03-11T10:00:00Z"
    chat = wired.chat(user)["window"]  # WhatsApp's view of the same window
    assert (chat["open"], chat["expires_at"]) == (True, status["expires_at"])

    wired.advance(90)
    sent = ok(wired.send(to="+1 (650) 555-0101", text="It ships today.", reply_to=inbound["id"]))
    assert sent["state"] == "accepted"
    assert sent["decision"]["reason"] == "window_open"
    assert sent["decision"]["used"] == "free_form"
    assert sent["contact_id"] == status["contact_id"]
    (outbound,) = wired.outbound(user)
    assert outbound["id"] == sent["message_id"]
    assert outbound["input"] == user  # wawindow sends the WhatsApp id, however it was typed
    assert outbound["request"]["text"] == {"body": "It ships today."}
    assert outbound["request"]["context"] == {"message_id": inbound["id"]}
    assert sent["whatsapp_response"]["messages"] == [{"id": sent["message_id"]}]

    wired.settle()
    message = wired.message(sent["message_id"])
    sent_at = "2026-03-10T10:01:30Z"
    assert message["direction"] == "outbound"
    assert message["at"] == sent_at
    assert message["timeline"] == [
        {"status": "sent", "at": sent_at},
        {"status": "delivered", "at": sent_at},
        {"status": "read", "at": sent_at},
    ]
    assert message["conversation_id"] == status["conversation"]["id"]
    assert recorded_billing(message) == {
        "model": "PMP",
        "category": "service",
        "type": "free_customer_service",
        "billable": False,
        "era": "PMP-1",
        "market": "US",
        "price": "0",
        "currency": "USD",
    }
    assert_billed_as_reported(wired, sent["message_id"], sent["decision"]["expected_billing"])


# --------------------------------------------------------------------------- the window closes


def test_a_day_later_free_form_is_refused_by_the_api_and_the_proxy_and_nothing_is_sent(
    wired: Wired,
) -> None:
    user = "16505550102"
    wired.inbound(user, "Where is my order?")
    wired.advance(25 * 3600)
    status = wired.session(user)
    assert status["window_active"] is False
    assert status["can_send"]["free_form"] is False
    assert wired.chat(user)["window"]["open"] is False  # WhatsApp agrees
    before = wired.sandbox.messages()["data"]

    refused = wired.send(to=user, text="Still there?")
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "https://wawindow.dev/problems/window_closed"
    assert problem["last_inbound_at"] == "2026-03-10T10:00:00Z"
    assert problem["expired_at"] == "2026-03-11T10:00:00Z"
    offered = [
        (t["name"], t["language"], t["category"], t["param_count"]) for t in problem["templates"]
    ]
    assert offered == [
        ("order_update", "en_US", "utility", 2),
        ("retired_offer", "en_US", "marketing", 1),
        ("spring_sale", "en_US", "marketing", 1),
    ]  # the paused template is not offered

    proxied = wired.proxy(
        {"messaging_product": "whatsapp", "to": user, "type": "text", "text": {"body": "Hi?"}}
    )
    assert proxied.status_code == 400, proxied.text
    error = proxied.json()["error"]
    assert error["code"] == 131047
    assert error["message"] == "(#131047) Re-engagement message"
    assert error["type"] == "OAuthException"
    assert error["error_data"] == {
        "messaging_product": "whatsapp",
        "details": "Message failed to send because more than 24 hours have passed since the "
        "customer last replied to this number.",
    }
    assert error["fbtrace_id"]

    assert wired.sandbox.messages()["data"] == before  # nothing reached WhatsApp
    listed = ok(wired.server.get("/v1/messages", contact_id=status["contact_id"]))
    assert [m["direction"] for m in listed["items"]] == ["inbound"]


def test_in_the_windows_last_minute_free_form_is_refused_before_whatsapp_would(
    wired: Wired,
) -> None:
    """The gate wants the window open 60 s after the send, so a send never races its end."""
    user = "16505550103"
    wired.inbound(user, "Where is my order?")
    wired.advance(DAY - 61)
    in_time = ok(wired.send(to=user, text="It ships today."))
    wired.advance(1)
    late = wired.send(to=user, text="It ships today.")
    assert late.status_code == 403, late.text
    assert late.json()["expired_at"] == "2026-03-11T10:00:00Z"
    proxied = wired.proxy(
        {"messaging_product": "whatsapp", "to": user, "type": "text", "text": {"body": "Hi?"}}
    )
    assert (proxied.status_code, proxied.json()["error"]["code"]) == (400, 131047)
    assert wired.chat(user)["window"]["open"] is True  # WhatsApp would still have taken it

    wired.settle()
    assert [m["id"] for m in wired.outbound(user)] == [in_time["message_id"]]
    assert wired.sent(in_time["message_id"])["outcome"] == "delivered"
    assert_billed_as_reported(wired, in_time["message_id"], in_time["decision"]["expected_billing"])


# --------------------------------------------------------------------------- templates per era


@pytest.mark.parametrize(
    ("user", "at", "era", "model", "billed", "total"),
    [
        (
            "16505550111",
            CBP_DAY,
            "CBP",
            "CBP",
            [(True, "0.025"), (True, "0.004"), (False, "0")],
            "0.029",
        ),
        (
            "16505550112",
            PMP_1_DAY,
            "PMP-1",
            "PMP",
            [(True, "0.03"), (True, "0.0035"), (True, "0.03")],
            "0.0635",
        ),
        (
            "16505550113",
            PMP_2_DAY,
            "PMP-2",
            "PMP",
            [(True, "0.03"), (True, "0.0035"), (True, "0.03")],
            "0.0635",
        ),
    ],
    ids=["CBP", "PMP-1", "PMP-2"],
)
def test_templates_with_the_window_closed_are_billed_as_whatsapp_reports_in_each_era(
    world: Wired,
    user: str,
    at: datetime,
    era: str,
    model: str,
    billed: list[tuple[bool, str]],
    total: str,
) -> None:
    """A marketing template, a utility one, then marketing again a minute later: in CBP the
    second marketing message is inside the paid conversation the first opened, so it is free."""
    wired = world
    wired.set_clock(at)
    refused = wired.send(to=user, text="Hello?")  # the user never wrote
    assert refused.status_code == 403, refused.text

    expected = {}
    templates = [
        ("marketing", spring_sale()),
        ("utility", order_update()),
        ("marketing", spring_sale()),
    ]
    for (category, template), (billable, price) in zip(templates, billed, strict=True):
        quoted = wired.dry_run(to=user, template=template)["decision"]
        assert quoted["allowed"] is True
        assert quoted["reason"] == "template_ok"
        assert quoted["template"]["category"] == category
        assert quoted["expected_billing"] == {
            "model": model,
            "category": category,
            "type": "regular",
            "billable": billable,
            "era": era,
            "market": "US",
            "price": price,
            "currency": "USD",
        }
        sent = ok(wired.send(to=user, template=template))
        assert sent["decision"] == quoted
        expected[sent["message_id"]] = quoted["expected_billing"]
        wired.advance(60)

    wired.settle()
    for message_id, billing in expected.items():
        assert_billed_as_reported(wired, message_id, billing)
        assert wired.message(message_id)["category"] == billing["category"]
    sent_templates = [m["template"] for m in wired.outbound(user)]
    assert [(t["name"], t["category"]) for t in sent_templates] == [
        ("spring_sale", "marketing"),
        ("order_update", "utility"),
        ("spring_sale", "marketing"),
    ]
    assert wired.session(user)["window_active"] is False  # templates do not open it

    # The billing summary of the hour counts what WhatsApp charged: one charge per
    # paid conversation in CBP, per billable message since.
    summary = ok(
        wired.server.get("/v1/billing/summary", since=iso(at), until=iso(at + timedelta(hours=1)))
    )["totals"]
    reported = [m for m in wired.outbound(user) if m["pricing"]["billable"]]
    charges = {m["conversation"]["id"] for m in reported} if model == "CBP" else reported
    assert (summary["messages_count"], summary["billable_count"]) == (3, len(charges))
    assert (summary["provider_reported_count"], summary["drift_count"]) == (3, 0)
    assert summary["estimated_cost"] == {"USD": total}


def test_a_template_whatsapp_does_not_have_is_refused_with_whatsapps_error(wired: Wired) -> None:
    """wawindow's registry still has it, so the gate lets it go; WhatsApp answers 404
    with 132001, a refusal of the message itself: a 400 that keeps WhatsApp's error."""
    user = "16505550109"
    template = {"name": "retired_offer", "language": "en_US", "parameters": ["Sheena"]}
    assert wired.dry_run(to=user, template=template)["decision"]["allowed"] is True

    refused = wired.send(to=user, template=template)
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "https://wawindow.dev/problems/whatsapp_error"
    assert problem["state"] == "failed"
    assert problem["title"] == "Template name does not exist in the translation"
    error = problem["whatsapp_error"]
    assert (error["http_status"], error["code"]) == (404, 132001)
    assert error["details"] == "template name (retired_offer) does not exist in en_US"
    assert error["fbtrace_id"]
    assert wired.outbound(user) == []  # WhatsApp sent nothing
    documented = wired.server.client.get("/openapi.json").json()
    assert "400" in documented["paths"]["/v1/messages"]["post"]["responses"]


# --------------------------------------------------------------------------- free entry point


def test_an_ad_reply_opens_a_free_entry_point_and_a_template_two_days_later_is_free(
    wired: Wired,
) -> None:
    user = "16505550104"
    wired.inbound(user, "I saw your ad", referral={"source_id": "120210000000000001"})
    contact_id = wired.session(user)["contact_id"]
    wired.advance(120)
    quoted = wired.dry_run(contact_id=contact_id, text="Welcome! How can we help?")["decision"]
    assert quoted["expected_billing"]["type"] == "free_entry_point"

    reply = ok(
        wired.post(f"/v1/contacts/{contact_id}/reply", {"text": "Welcome! How can we help?"})
    )
    assert reply["source"] == "reply"
    wired.settle()
    assert_billed_as_reported(wired, reply["message_id"], quoted["expected_billing"])
    opened = wired.session(user)["free_entry_point"]
    assert opened["active"] is True
    assert opened["opened_at"] == "2026-03-10T10:02:00Z"
    assert opened["expires_at"] == "2026-03-13T10:02:00Z"
    fep = wired.chat(user)["free_entry_point"]  # WhatsApp's view of the same window
    assert (fep["open"], fep["opened_at"], fep["expires_at"]) == (
        True,
        opened["opened_at"],
        opened["expires_at"],
    )

    wired.advance(2 * DAY)
    status = wired.session(user)
    assert status["window_active"] is False
    assert status["free_entry_point"]["active"] is True
    template = order_update()
    quoted = wired.dry_run(contact_id=contact_id, template=template)["decision"]
    assert quoted["expected_billing"] == {
        "model": "PMP",
        "category": "utility",
        "type": "free_entry_point",
        "billable": False,
        "era": "PMP-1",
        "market": "US",
        "price": "0",
        "currency": "USD",
    }
    sent = ok(wired.send(contact_id=contact_id, template=template))
    wired.settle()
    assert_billed_as_reported(wired, sent["message_id"], quoted["expected_billing"])


# --------------------------------------------------------------------------- smart send


def test_smart_send_sends_free_form_in_the_window_and_the_template_after_it(
    wired: Wired,
) -> None:
    user = "16505550105"
    wired.inbound(user, "Where is my order?")
    smart = {
        "to": user,
        "text": "It ships today.",
        "fallback_template": order_update("Sheena", "A-7"),
    }

    inside = ok(wired.send(**smart))
    assert (inside["decision"]["used"], inside["decision"]["reason"]) == (
        "free_form",
        "window_open",
    )
    wired.advance(25 * 3600)
    after = ok(wired.send(**smart))
    assert (after["decision"]["used"], after["decision"]["reason"]) == (
        "template",
        "fallback_template",
    )
    assert after["decision"]["template"] == {
        "name": "order_update",
        "language": "en_US",
        "category": "utility",
    }

    first, second = wired.outbound(user)
    assert (first["id"], first["type"]) == (inside["message_id"], "text")
    assert first["request"]["text"] == {"body": "It ships today."}
    assert (second["id"], second["type"]) == (after["message_id"], "template")
    assert second["request"]["template"]["name"] == "order_update"
    assert second["request"]["template"]["components"] == [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Sheena"}, {"type": "text", "text": "A-7"}],
        }
    ]
    assert [m["outcome"] for m in (first, second)] == ["delivered", "delivered"]
    wired.settle()
    assert wired.message(inside["message_id"])["type"] == "text"
    assert wired.message(after["message_id"])["template"] == {
        "name": "order_update",
        "language": "en_US",
    }
    for sent in (inside, after):
        assert_billed_as_reported(wired, sent["message_id"], sent["decision"]["expected_billing"])


# --------------------------------------------------------------------------- dry run


@pytest.mark.parametrize(
    ("user", "at", "quoted"),
    [
        (
            "16505550121",
            MAY_2025,
            [
                ("service", "free_customer_service", False, "0"),  # a free service conversation
                ("utility", "regular", True, "0.004"),  # opens a paid utility conversation
                ("marketing", "regular", True, "0.025"),
                ("marketing", "regular", False, "0"),  # inside an open paid conversation
            ],
        ),
        (
            "16505550122",
            MARCH_2026,
            [
                ("service", "free_customer_service", False, "0"),
                ("utility", "free_customer_service", False, "0"),  # free in the window
                ("marketing", "regular", True, "0.03"),
                ("service", "free_customer_service", False, "0"),
            ],
        ),
        (
            "16505550123",
            OCTOBER_2026,
            [
                ("service", "free_customer_service", False, "0"),
                ("utility", "regular", True, "0.0035"),  # charged even in the window
                ("marketing", "regular", True, "0.03"),
                ("service", "free_customer_service", False, "0"),
            ],
        ),
    ],
    ids=["CBP", "PMP-1", "PMP-2"],
)
def test_the_dry_run_says_what_each_real_send_then_records(
    world: Wired, user: str, at: datetime, quoted: list[tuple[str, str, bool, str]]
) -> None:
    wired = world
    wired.set_clock(at)
    wired.inbound(user, "Hi, a question")
    sends: list[dict[str, Any]] = [
        {"to": user, "text": "Sure, ask away"},
        {"to": user, "template": order_update()},
        {"to": user, "template": spring_sale()},
        {"to": user, "type": "image", "content": {"link": "https://example.com/a.png"}},
    ]
    quotes: list[dict[str, Any]] = []
    message_ids: list[str] = []
    for body in sends:
        wired.advance(30)
        quote = wired.dry_run(**body)
        assert len(wired.outbound(user)) == len(message_ids)  # the dry run sent nothing
        sent = ok(wired.send(**body))
        assert sent["decision"] == quote["decision"]
        quotes.append(quote["decision"]["expected_billing"])
        message_ids.append(sent["message_id"])
    assert [(q["category"], q["type"], q["billable"], q["price"]) for q in quotes] == quoted
    wired.settle()
    for message_id, expected in zip(message_ids, quotes, strict=True):
        assert_billed_as_reported(wired, message_id, expected)


# --------------------------------------------------------------------------- the Graph proxy


def test_the_graph_proxy_forwards_to_the_sandbox_and_answers_its_exact_json(
    wired: Wired,
) -> None:
    user = "16505550107"
    wired.inbound(user, "Where is my order?")
    body = {
        "messaging_product": "whatsapp",
        "to": "+1 650 555 0107",
        "type": "text",
        "text": {"body": "On its way"},
    }
    proxied = wired.proxy(body)
    assert proxied.status_code == 200, proxied.text
    (forwarded,) = wired.outbound(user)
    assert forwarded["request"]["text"] == {"body": "On its way"}

    # The same request sent to the sandbox directly: the same JSON, but for the new id.
    direct = wired.sandbox.send(forwarded["request"], token=ACCESS_TOKEN)
    assert direct.status_code == 200, direct.text
    answered_directly = direct.json()
    assert answered_directly["messages"] != [{"id": forwarded["id"]}]
    answered_directly["messages"] = [{"id": forwarded["id"]}]
    assert proxied.json() == answered_directly
    assert proxied.headers["content-type"] == direct.headers["content-type"]

    wired.settle()
    contact_id = wired.session(user)["contact_id"]
    listed = ok(wired.server.get("/v1/messages", contact_id=contact_id, direction="outbound"))
    direct_id = direct.json()["messages"][0]["id"]  # known to wawindow from its statuses
    assert sorted(m["id"] for m in listed["items"]) == sorted([forwarded["id"], direct_id])
    message = wired.message(forwarded["id"])
    assert message["type"] == "text"
    assert message["at"] == "2026-03-10T10:00:00Z"
    assert_billed_as_reported(
        wired,
        forwarded["id"],
        {
            "model": "PMP",
            "category": "service",
            "type": "free_customer_service",
            "billable": False,
            "era": "PMP-1",
            "market": "US",
            "price": "0",
            "currency": "USD",
        },
    )
