"""Cloud API send requests read and checked directly (``entrypoints.sandbox.send_requests``)."""

from __future__ import annotations

from typing import Any

import pytest

from wawindow.entrypoints.sandbox.send_requests import (
    InvalidRequest,
    MessageRequest,
    ReadReceipt,
    TemplateCall,
    read_request,
)

TO = "16505551234"


def message(kind: str, content: object, **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": TO, "type": kind, kind: content, **extra}


def template(components: list[dict[str, Any]]) -> dict[str, Any]:
    return message(
        "template",
        {"name": "order_update", "language": {"code": "en_US"}, "components": components},
    )


def text_parameter(value: str, name: str | None = None) -> dict[str, Any]:
    parameter = {"type": "text", "text": value}
    return parameter if name is None else {**parameter, "parameter_name": name}


VALID: list[dict[str, Any]] = [
    message("text", {"body": "hi", "preview_url": True}),
    {"messaging_product": "whatsapp", "to": TO, "text": {"body": "type defaults to text"}},
    message("image", {"link": "https://example.com/a.jpg", "caption": "a"}),
    message("audio", {"id": "1234"}),
    message("document", {"id": "1234", "filename": "a.pdf", "caption": "the invoice"}),
    message("video", {"link": "https://example.com/a.mp4"}),
    message("sticker", {"id": "1234"}),
    message("location", {"latitude": 52.37, "longitude": "4.89", "name": "Dam"}),
    message("contacts", [{"name": {"formatted_name": "Ann Lee", "first_name": "Ann"}}]),
    message(
        "interactive",
        {
            "type": "button",
            "body": {"text": "Pick one"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]},
        },
    ),
    message(
        "interactive",
        {
            "type": "list",
            "body": {"text": "Menu"},
            "action": {"button": "See", "sections": [{"rows": [{"id": "1", "title": "One"}]}]},
        },
    ),
    message(
        "interactive",
        {
            "type": "cta_url",
            "body": {"text": "Track it"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Open", "url": "https://example.com"},
            },
        },
    ),
    message(
        "interactive",
        {"type": "product", "action": {"catalog_id": "1", "product_retailer_id": "x"}},
    ),
    message("reaction", {"message_id": "wamid.in1", "emoji": ""}),
    message(
        "text", {"body": "reply"}, context={"message_id": "wamid.in1"}, recipient_type="individual"
    ),
    template([]),
]


@pytest.mark.parametrize("document", VALID, ids=lambda d: str(d.get("type", "text")))
def test_every_cloud_api_message_type_is_accepted(document: dict[str, Any]) -> None:
    request = read_request(document)
    assert isinstance(request, MessageRequest)
    assert request.wa_id == TO
    assert request.type == document.get("type", "text")


INVALID: list[tuple[object, str]] = [
    ([], "Param request body must be a JSON object."),
    ({"to": TO, "text": {"body": "x"}}, "The parameter messaging_product is required."),
    ({"messaging_product": "sms", "to": TO}, "Param messaging_product must be 'whatsapp'"),
    ({"messaging_product": "whatsapp", "text": {"body": "x"}}, "The parameter to is required"),
    ({"messaging_product": "whatsapp", "to": "not a number"}, "Param to must be a phone number"),
    ({"messaging_product": "whatsapp", "to": "US.1349"}, "use recipient for a business-scoped"),
    ({"messaging_product": "whatsapp", "recipient": "16505551234"}, "Param recipient must be"),
    (message("text", {"body": "x"}, recipient_type="group"), "Param recipient_type"),
    (message("fax", {"body": "x"}), "Param type must be one of"),
    (
        {"messaging_product": "whatsapp", "to": TO, "type": "image"},
        "The parameter image is required.",
    ),
    (message("text", {}), "The parameter text['body'] is required."),
    (message("text", {"body": 5}), "Param text['body'] must be a string."),
    (message("text", {"body": "x" * 4097}), "at most 4096 characters"),
    (message("text", {"body": "x", "preview_url": "yes"}), "text['preview_url'] must be a boolean"),
    (message("text", "hello"), "Param text must be a JSON object."),
    (message("image", {"caption": "no media"}), "The parameter image['id'] or image['link']"),
    (message("audio", {"id": "1", "caption": "c"}), "Param audio['caption'] is not allowed"),
    (message("image", {"id": "1", "filename": "a"}), "Param image['filename'] is not allowed"),
    (message("location", {"longitude": 1}), "The parameter location['latitude'] is required."),
    (message("location", {"latitude": 91, "longitude": 1}), "location['latitude'] must be between"),
    (
        message("location", {"latitude": "n", "longitude": 1}),
        "location['latitude'] must be a number",
    ),
    (message("contacts", []), "Param contacts must be a non-empty list"),
    (message("contacts", [{"name": {}}]), "contacts[0]['name']['formatted_name'] is required"),
    (message("interactive", {"body": {"text": "x"}}), "The parameter interactive['type']"),
    (message("interactive", {"type": "carousel_x"}), "Param interactive['type'] must be one of"),
    (message("interactive", {"type": "button", "action": {}}), "interactive['body'] is required"),
    (
        message(
            "interactive", {"type": "button", "body": {"text": "x"}, "action": {"buttons": []}}
        ),
        "must list 1 to 3 buttons",
    ),
    (
        message(
            "interactive",
            {
                "type": "button",
                "body": {"text": "x"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]},
            },
        ),
        "['buttons'][0]['reply']['title'] must be at most 20",
    ),
    (
        message("interactive", {"type": "list", "body": {"text": "x"}, "action": {"button": "b"}}),
        "['sections'] must list 1 to 10 sections",
    ),
    (
        message(
            "interactive",
            {"type": "cta_url", "body": {"text": "x"}, "action": {"parameters": {"url": "u"}}},
        ),
        "['parameters']['display_text'] is required",
    ),
    (message("reaction", {"emoji": "x"}), "The parameter reaction['message_id'] is required."),
    (message("reaction", {"message_id": "wamid.1"}), "The parameter reaction['emoji'] is required"),
    (message("template", {"language": {"code": "en"}}), "The parameter template['name']"),
    (message("template", {"name": "t"}), "The parameter template['language'] is required."),
    (message("template", {"name": "t", "language": {}}), "template['language']['code']"),
    (template([{"type": "banner"}]), "['components'][0]['type'] must be one of"),
    (
        template([{"type": "body", "parameters": [{"type": "text"}]}]),
        "['parameters'][0]['text'] is required",
    ),
    (
        template([{"type": "body", "parameters": [{"type": "emoji", "emoji": "x"}]}]),
        "['parameters'][0]['type'] must be one of",
    ),
    (
        template(
            [{"type": "body", "parameters": [text_parameter("a", "name"), text_parameter("b")]}]
        ),
        "mixes named and positional parameters",
    ),
    (message("text", {"body": "x"}, context={"id": "x"}), "The parameter context['message_id']"),
    (
        message("text", {"body": "x"}, biz_opaque_callback_data=5),
        "biz_opaque_callback_data must be",
    ),
    (
        {"messaging_product": "whatsapp", "status": "delivered", "message_id": "w"},
        "Param status must be 'read'",
    ),
    ({"messaging_product": "whatsapp", "status": "read"}, "The parameter message_id is required."),
]


@pytest.mark.parametrize(("document", "details"), INVALID, ids=lambda v: str(v)[:40])
def test_an_invalid_request_names_the_offending_field(document: object, details: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        read_request(document)
    assert details in raised.value.details


def test_to_wins_over_recipient_and_recipient_alone_is_a_bsuid_send() -> None:
    both = read_request(message("text", {"body": "x"}, recipient="US.13491208655302741918"))
    assert isinstance(both, MessageRequest)
    assert (both.input, both.wa_id, both.recipient) == (TO, TO, None)
    alone = read_request(
        {
            "messaging_product": "whatsapp",
            "recipient": "US.13491208655302741918",
            "text": {"body": "x"},
        }
    )
    assert isinstance(alone, MessageRequest)
    assert (alone.input, alone.wa_id, alone.recipient) == (
        "US.13491208655302741918",
        None,
        "US.13491208655302741918",
    )


def test_phone_numbers_are_read_as_their_digits() -> None:
    request = read_request(
        {"messaging_product": "whatsapp", "to": "+1 (650) 555-1234", "text": {"body": "x"}}
    )
    assert isinstance(request, MessageRequest)
    assert request.wa_id == TO
    assert request.input == "+1 (650) 555-1234"


def test_template_body_parameters_are_kept_positional_or_named() -> None:
    positional = read_request(
        template(
            [
                {
                    "type": "header",
                    "parameters": [{"type": "image", "image": {"link": "https://x"}}],
                },
                {
                    "type": "body",
                    "parameters": [
                        text_parameter("Ann"),
                        {
                            "type": "currency",
                            "currency": {
                                "fallback_value": "$5",
                                "code": "USD",
                                "amount_1000": 5000,
                            },
                        },
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "p"}],
                },
            ]
        )
    )
    assert isinstance(positional, MessageRequest)
    assert positional.template == TemplateCall("order_update", "en_US", ["Ann", "$5"])
    upper = read_request(
        template([{"type": "BODY", "parameters": [{"type": "TEXT", "text": "x"}]}])
    )
    assert isinstance(upper, MessageRequest)
    assert upper.template == TemplateCall("order_update", "en_US", ["x"])
    named = read_request(
        template([{"type": "body", "parameters": [text_parameter("Ann", "first_name")]}])
    )
    assert isinstance(named, MessageRequest)
    assert named.template == TemplateCall("order_update", "en_US", {"first_name": "Ann"})
    assert named.is_template


def test_mark_as_read_is_a_read_receipt() -> None:
    receipt = read_request(
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.in1",
            "typing_indicator": {"type": "text"},
        }
    )
    assert receipt == ReadReceipt("wamid.in1")


def test_context_and_opaque_data_are_kept() -> None:
    request = read_request(
        message(
            "text",
            {"body": "x"},
            context={"message_id": "wamid.in1"},
            biz_opaque_callback_data="order-7",
        )
    )
    assert isinstance(request, MessageRequest)
    assert request.context_message_id == "wamid.in1"
    assert request.biz_opaque_callback_data == "order-7"
