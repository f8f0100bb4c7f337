"""The sandbox's webhook bodies, read back by wawindow's own parser (``parse_webhook``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from wawindow.adapters.meta.payload import parse_webhook
from wawindow.domain.facts import (
    IdentityObserved,
    InboundMessage,
    ProviderConversation,
    ProviderError,
    ProviderPricing,
    Referral,
    StatusUpdate,
    UserCall,
)
from wawindow.domain.identity import Identity
from wawindow.entrypoints.sandbox.graph_errors import RE_ENGAGEMENT
from wawindow.entrypoints.sandbox.sandbox import encode
from wawindow.entrypoints.sandbox.simulation import ConversationReport, PricingReport
from wawindow.entrypoints.sandbox.webhook_bodies import (
    Business,
    InboundContent,
    Person,
    StatusReport,
    inbound_message,
    quick_reply,
    reaction,
    status_update,
    text,
    user_call,
)

LINE = "106540352242922"
BUSINESS = Business("102290129340398", LINE, "15550783881")
PHONE_USER = Person("16505551234", "US.13491208655302741918", "Sheena")
HIDDEN_USER = Person(None, "US.99887766554433221100", "Ann", "ann.w")
AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def facts_of(document: dict[str, object]) -> list[object]:
    parsed = parse_webhook(encode(document))
    assert parsed.lines == (LINE,)
    return [f for f in parsed.facts if not isinstance(f, IdentityObserved)]


def test_a_text_from_a_phone_number_names_the_number_and_the_bsuid() -> None:
    body = inbound_message(BUSINESS, PHONE_USER, "wamid.in1", AT, text("Is my order here?"))
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["from"] == "16505551234"
    assert message["from_user_id"] == "US.13491208655302741918"
    assert message["text"] == {"body": "Is my order here?"}
    identity = Identity.of(wa_id="16505551234", bsuid="US.13491208655302741918", name="Sheena")
    assert facts_of(body) == [InboundMessage(LINE, "wamid.in1", AT, identity, "text", None)]


def test_a_user_with_a_hidden_number_is_named_by_the_bsuid_only() -> None:
    body = inbound_message(BUSINESS, HIDDEN_USER, "wamid.in2", AT, text("hi"))
    value = body["entry"][0]["changes"][0]["value"]
    assert "from" not in value["messages"][0]
    assert value["contacts"] == [
        {"profile": {"name": "Ann", "username": "ann.w"}, "user_id": "US.99887766554433221100"}
    ]
    [fact] = facts_of(body)
    assert isinstance(fact, InboundMessage)
    assert fact.user.wa_id is None
    assert fact.user.bsuid == "US.99887766554433221100"


def test_a_referral_is_read_as_the_ad_the_user_came_from() -> None:
    ad = {
        "source_url": "https://fb.me/ad",
        "source_id": "120210000000000001",
        "source_type": "ad",
        "ctwa_clid": "ARAclick",
    }
    sent = InboundContent("text", {"body": "I saw your ad"}, referral=ad)
    [fact] = facts_of(inbound_message(BUSINESS, PHONE_USER, "wamid.ad", AT, sent))
    assert isinstance(fact, InboundMessage)
    assert fact.referral == Referral("ad", "120210000000000001", "https://fb.me/ad", "ARAclick")


def test_button_taps_and_reactions_are_inbound_messages_of_their_type() -> None:
    tap = quick_reply(BUSINESS, "Yes", "CONFIRM", "wamid.out1")
    assert tap.context == {"from": "15550783881", "id": "wamid.out1"}
    [button] = facts_of(inbound_message(BUSINESS, PHONE_USER, "wamid.b", AT, tap))
    [liked] = facts_of(
        inbound_message(BUSINESS, PHONE_USER, "wamid.r", AT, reaction("wamid.out1", "👍"))
    )
    assert isinstance(button, InboundMessage)
    assert isinstance(liked, InboundMessage)
    assert (button.type, liked.type) == ("button", "reaction")


def test_a_sent_status_carries_the_conversation_expiry_the_delivered_one_does_not() -> None:
    conversation = ConversationReport("c0ffee", AT + timedelta(hours=24), "utility")
    pricing = PricingReport(True, "CBP", "utility", None)
    sent = StatusReport("wamid.out1", "sent", AT, pricing, conversation, opaque="order-7")
    sent_body = status_update(BUSINESS, PHONE_USER, sent)
    status = sent_body["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["conversation"] == {
        "id": "c0ffee",
        "expiration_timestamp": str(int((AT + timedelta(hours=24)).timestamp())),
        "origin": {"type": "utility"},
    }
    assert status["pricing"] == {"billable": True, "pricing_model": "CBP", "category": "utility"}
    assert status["biz_opaque_callback_data"] == "order-7"
    delivered = status_update(
        BUSINESS, PHONE_USER, StatusReport("wamid.out1", "delivered", AT, pricing, conversation)
    )
    [fact] = facts_of(delivered)
    assert fact == StatusUpdate(
        LINE,
        "wamid.out1",
        "delivered",
        AT,
        Identity.of(wa_id="16505551234", bsuid="US.13491208655302741918", name="Sheena"),
        conversation=ProviderConversation("c0ffee", None, "utility"),
        pricing=ProviderPricing(True, "CBP", "utility", None),
    )


def test_a_failed_status_has_the_error_and_no_contacts() -> None:
    report = StatusReport("wamid.out2", "failed", AT, errors=(RE_ENGAGEMENT.status_entry(),))
    body = status_update(BUSINESS, HIDDEN_USER, report)
    value = body["entry"][0]["changes"][0]["value"]
    assert "contacts" not in value
    assert value["statuses"][0]["recipient_user_id"] == "US.99887766554433221100"
    assert "recipient_id" not in value["statuses"][0]
    [fact] = facts_of(body)
    assert isinstance(fact, StatusUpdate)
    assert fact.errors == (
        ProviderError(
            131047, "Re-engagement message", "Re-engagement message", RE_ENGAGEMENT.details
        ),
    )


def test_user_calls_are_user_initiated_calls() -> None:
    connect = user_call(BUSINESS, PHONE_USER, "wacid.1", AT, "connect")
    end = user_call(BUSINESS, PHONE_USER, "wacid.1", AT + timedelta(minutes=2), "terminate", AT)
    assert end["entry"][0]["changes"][0]["field"] == "calls"
    ended = end["entry"][0]["changes"][0]["value"]["calls"][0]
    assert (ended["status"], ended["duration"]) == ("COMPLETED", 120)
    [first] = facts_of(connect)
    [last] = facts_of(end)
    assert isinstance(first, UserCall)
    assert isinstance(last, UserCall)
    assert (first.call_id, first.event, last.event) == ("wacid.1", "connect", "terminate")


def test_bodies_are_encoded_as_meta_encodes_them() -> None:
    body = inbound_message(BUSINESS, PHONE_USER, "wamid.in1", AT, text("café https://x.y/z"))
    raw = encode(body)
    assert b"caf\\u00e9 https:\\/\\/x.y\\/z" in raw
    assert b": " not in raw
    assert json.loads(raw) == body
