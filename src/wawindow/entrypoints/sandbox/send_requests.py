"""Cloud API send requests, read and checked the way WhatsApp checks them. Pure.

``read_request(document)`` takes the JSON body of ``POST /{version}/{phone_number_id}/messages``
and returns a ``MessageRequest`` (a message to send) or a ``ReadReceipt`` (the
mark-as-read request), or raises ``InvalidRequest`` whose ``details`` names the
offending field in Meta's words (``The parameter text['body'] is required.``).

What is checked, per ``type`` (``text`` when absent):

- every request: ``messaging_product`` is ``whatsapp``; a recipient: ``to`` (a phone
  number) or ``recipient`` (a business-scoped user id; ``to`` wins when both are
  given); ``recipient_type`` ``individual`` when given; ``context.message_id`` and
  ``biz_opaque_callback_data`` are strings when given;
- ``text``: ``body``, 1 to 4096 characters; ``preview_url`` a boolean;
- ``image``/``audio``/``document``/``video``/``sticker``: ``id`` or ``link``;
  ``caption`` only for image, video and document; ``filename`` only for document;
- ``location``: ``latitude`` and ``longitude`` numbers in range;
- ``contacts``: a non-empty list, each with ``name.formatted_name``;
- ``interactive``: a known ``type``, an ``action``, ``body.text`` where WhatsApp
  needs one; reply buttons (1 to 3, each with ``reply.id`` and ``reply.title``),
  list sections and rows, the ``cta_url`` parameters;
- ``reaction``: ``message_id`` and ``emoji`` (empty to remove a reaction);
- ``template``: ``name``, ``language.code``, ``components[]`` with known types and
  parameters that carry the value their ``type`` names. The body parameters are
  kept (positional, or named by ``parameter_name``) so the caller can check them
  against the template.

Unknown extra keys are ignored, as WhatsApp mostly does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from wawindow.domain.templates import Parameters

MEDIA_TYPES: Final = frozenset({"image", "audio", "document", "video", "sticker"})
MESSAGE_TYPES: Final = frozenset(
    {*MEDIA_TYPES, "text", "location", "contacts", "interactive", "reaction", "template"}
)
INTERACTIVE_TYPES: Final = frozenset(
    {
        "button",
        "list",
        "cta_url",
        "flow",
        "product",
        "product_list",
        "catalog_message",
        "carousel",
        "location_request_message",
        "address_message",
        "call_permission_request",
        "voice_call",
    }
)
_INTERACTIVE_WITHOUT_BODY: Final = frozenset({"product"})
_CAPTIONED: Final = frozenset({"image", "video", "document"})
_COMPONENT_TYPES: Final = frozenset(
    {"header", "body", "button", "footer", "carousel", "limited_time_offer"}
)
_PARAMETER_VALUE_KEYS: Final = {
    "text": "text",
    "currency": "currency",
    "date_time": "date_time",
    "image": "image",
    "document": "document",
    "video": "video",
    "location": "location",
    "payload": "payload",
    "coupon_code": "coupon_code",
    "action": "action",
    "product": "product",
}
TEXT_LIMIT: Final = 4096
REPLY_TITLE_LIMIT: Final = 20
OPAQUE_DATA_LIMIT: Final = 512
BSUID: Final = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
_PHONE: Final = re.compile(r"\+?[0-9][0-9 ()\-.]*")
_PHONE_DIGITS: Final = range(6, 16)


class InvalidRequest(ValueError):
    """The request does not pass WhatsApp's checks; ``details`` says which field and why."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


@dataclass(frozen=True, slots=True)
class TemplateCall:
    """The template a request names, and the parameters of its body component."""

    name: str
    language: str
    body_parameters: Parameters


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """A message to send. ``wa_id`` is set when sent to a phone number, else ``recipient``."""

    input: str
    wa_id: str | None
    recipient: str | None
    type: str
    template: TemplateCall | None = None
    context_message_id: str | None = None
    biz_opaque_callback_data: str | None = None

    @property
    def is_template(self) -> bool:
        return self.template is not None


@dataclass(frozen=True, slots=True)
class ReadReceipt:
    """``{"status": "read", "message_id": ...}``: the business read a user's message."""

    message_id: str


def read_request(document: object) -> MessageRequest | ReadReceipt:
    body = _object(document, "request body")
    product = body.get("messaging_product")
    if product is None:
        raise InvalidRequest("The parameter messaging_product is required.")
    if product != "whatsapp":
        raise InvalidRequest(f"Param messaging_product must be 'whatsapp', got {product!r}.")
    if "status" in body:
        return _read_receipt(body)
    input_, wa_id, recipient = _recipient(body)
    kind = body.get("type", "text")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        allowed = ", ".join(sorted(MESSAGE_TYPES))
        raise InvalidRequest(f"Param type must be one of {{{allowed}}}, got {kind!r}.")
    content = body.get(kind)
    if content is None:
        raise InvalidRequest(f"The parameter {kind} is required.")
    template = _check_content(kind, content)
    return MessageRequest(
        input=input_,
        wa_id=wa_id,
        recipient=recipient,
        type=kind,
        template=template,
        context_message_id=_context(body.get("context")),
        biz_opaque_callback_data=_opaque_data(body.get("biz_opaque_callback_data")),
    )


def phone_digits(value: str) -> str | None:
    """The digits of a phone number (``+``, spaces and dashes allowed); ``None`` if not one."""
    if not _PHONE.fullmatch(value.strip()):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) in _PHONE_DIGITS else None


# --------------------------------------------------------------------------- the envelope


def _read_receipt(body: Mapping[str, Any]) -> ReadReceipt:
    if body["status"] != "read":
        raise InvalidRequest(f"Param status must be 'read', got {body['status']!r}.")
    return ReadReceipt(_text(body, "message_id", "message_id"))


def _recipient(body: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    kind = body.get("recipient_type", "individual")
    if kind != "individual":
        raise InvalidRequest(
            f"Param recipient_type must be 'individual', got {kind!r}: "
            "the sandbox has no group chats."
        )
    to, recipient = body.get("to"), body.get("recipient")
    if to is not None:
        if not isinstance(to, str | int) or isinstance(to, bool):
            raise InvalidRequest("Param to must be a phone number string.")
        digits = phone_digits(str(to))
        if digits is None:
            hint = (
                " (use recipient for a business-scoped user id)" if BSUID.fullmatch(str(to)) else ""
            )
            raise InvalidRequest(f"Param to must be a phone number, got {to!r}{hint}.")
        return str(to), digits, None
    if recipient is None:
        raise InvalidRequest(
            "The parameter to is required (or recipient, a business-scoped user id)."
        )
    if not isinstance(recipient, str) or not BSUID.fullmatch(recipient):
        raise InvalidRequest(
            "Param recipient must be a business-scoped user id such as "
            f"US.13491208655302741918, got {recipient!r}."
        )
    return recipient, None, recipient


def _context(value: object) -> str | None:
    if value is None:
        return None
    return _text(_object(value, "context"), "message_id", "context['message_id']")


def _opaque_data(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > OPAQUE_DATA_LIMIT:
        raise InvalidRequest(
            "Param biz_opaque_callback_data must be a string of at most "
            f"{OPAQUE_DATA_LIMIT} characters."
        )
    return value


# --------------------------------------------------------------------------- content


def _check_content(kind: str, content: object) -> TemplateCall | None:
    if kind == "contacts":
        _check_contacts(content)
        return None
    value = _object(content, kind)
    if kind == "template":
        return _template(value)
    if kind == "text":
        _check_text(value)
    elif kind in MEDIA_TYPES:
        _check_media(kind, value)
    elif kind == "location":
        _check_location(value)
    elif kind == "interactive":
        _check_interactive(value)
    elif kind == "reaction":
        _text(value, "message_id", "reaction['message_id']")
        if not isinstance(value.get("emoji"), str):
            raise InvalidRequest(
                "The parameter reaction['emoji'] is required (\"\" removes a reaction)."
            )
    return None


def _check_text(text: Mapping[str, Any]) -> None:
    body = _text(text, "body", "text['body']")
    if len(body) > TEXT_LIMIT:
        raise InvalidRequest(f"Param text['body'] must be at most {TEXT_LIMIT} characters.")
    preview = text.get("preview_url")
    if preview is not None and not isinstance(preview, bool):
        raise InvalidRequest("Param text['preview_url'] must be a boolean.")


def _check_media(kind: str, media: Mapping[str, Any]) -> None:
    if not any(isinstance(media.get(key), str) and media.get(key) for key in ("id", "link")):
        raise InvalidRequest(f"The parameter {kind}['id'] or {kind}['link'] is required.")
    if "caption" in media and kind not in _CAPTIONED:
        raise InvalidRequest(
            f"Param {kind}['caption'] is not allowed: only image, video and document have captions."
        )
    if "filename" in media and kind != "document":
        raise InvalidRequest(
            f"Param {kind}['filename'] is not allowed: only documents have file names."
        )


def _check_location(location: Mapping[str, Any]) -> None:
    for key, limit in (("latitude", 90), ("longitude", 180)):
        value = location.get(key)
        if value is None:
            raise InvalidRequest(f"The parameter location['{key}'] is required.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidRequest(f"Param location['{key}'] must be a number.") from None
        if not -limit <= number <= limit:
            raise InvalidRequest(f"Param location['{key}'] must be between -{limit} and {limit}.")


def _check_contacts(contacts: object) -> None:
    if not isinstance(contacts, list) or not contacts:
        raise InvalidRequest("Param contacts must be a non-empty list of contacts.")
    for index, contact in enumerate(contacts):
        name = _object(contact, f"contacts[{index}]").get("name")
        _text(
            _object(name, f"contacts[{index}]['name']"),
            "formatted_name",
            f"contacts[{index}]['name']['formatted_name']",
        )


def _check_interactive(interactive: Mapping[str, Any]) -> None:
    kind = interactive.get("type")
    if kind is None:
        raise InvalidRequest("The parameter interactive['type'] is required.")
    if kind not in INTERACTIVE_TYPES:
        allowed = ", ".join(sorted(INTERACTIVE_TYPES))
        raise InvalidRequest(
            f"Param interactive['type'] must be one of {{{allowed}}}, got {kind!r}."
        )
    if kind not in _INTERACTIVE_WITHOUT_BODY:
        body = interactive.get("body")
        _text(_object(body, "interactive['body']"), "text", "interactive['body']['text']")
    action = _object(interactive.get("action"), "interactive['action']")
    if kind == "button":
        _check_reply_buttons(action)
    elif kind == "list":
        _check_list(action)
    elif kind == "cta_url":
        parameters = _object(action.get("parameters"), "interactive['action']['parameters']")
        for key in ("display_text", "url"):
            _text(parameters, key, f"interactive['action']['parameters']['{key}']")


def _check_reply_buttons(action: Mapping[str, Any]) -> None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise InvalidRequest("Param interactive['action']['buttons'] must list 1 to 3 buttons.")
    for index, button in enumerate(buttons):
        where = f"interactive['action']['buttons'][{index}]"
        reply = _object(_object(button, where).get("reply"), f"{where}['reply']")
        _text(reply, "id", f"{where}['reply']['id']")
        title = _text(reply, "title", f"{where}['reply']['title']")
        if len(title) > REPLY_TITLE_LIMIT:
            raise InvalidRequest(
                f"Param {where}['reply']['title'] must be at most {REPLY_TITLE_LIMIT} characters."
            )


def _check_list(action: Mapping[str, Any]) -> None:
    _text(action, "button", "interactive['action']['button']")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise InvalidRequest("Param interactive['action']['sections'] must list 1 to 10 sections.")
    for index, section in enumerate(sections):
        where = f"interactive['action']['sections'][{index}]"
        rows = _object(section, where).get("rows")
        if not isinstance(rows, list) or not rows:
            raise InvalidRequest(f"Param {where}['rows'] must be a non-empty list.")
        for number, row in enumerate(rows):
            for key in ("id", "title"):
                _text(
                    _object(row, f"{where}['rows'][{number}]"),
                    key,
                    f"{where}['rows'][{number}]['{key}']",
                )


# --------------------------------------------------------------------------- templates


def _template(template: Mapping[str, Any]) -> TemplateCall:
    name = _text(template, "name", "template['name']")
    language = _object(template.get("language"), "template['language']")
    code = _text(language, "code", "template['language']['code']")
    components = template.get("components", [])
    if not isinstance(components, list):
        raise InvalidRequest("Param template['components'] must be a list.")
    body: Parameters = []
    for index, component in enumerate(components):
        kind, parameters = _component(component, f"template['components'][{index}]")
        if kind == "body":
            body = parameters
    return TemplateCall(name, code, body)


def _component(component: object, where: str) -> tuple[str, Parameters]:
    """A component's type and its parameters (a list, or a mapping when named)."""
    value = _object(component, where)
    kind = _lower(value.get("type"))
    if kind not in _COMPONENT_TYPES:
        allowed = ", ".join(sorted(_COMPONENT_TYPES))
        raise InvalidRequest(f"Param {where}['type'] must be one of {{{allowed}}}, got {kind!r}.")
    parameters = value.get("parameters", [])
    if not isinstance(parameters, list):
        raise InvalidRequest(f"Param {where}['parameters'] must be a list.")
    values = [_parameter(p, f"{where}['parameters'][{i}]") for i, p in enumerate(parameters)]
    names = [name for name, _ in values if name is not None]
    if names and len(names) != len(values):
        raise InvalidRequest(f"Param {where}['parameters'] mixes named and positional parameters.")
    if names:
        return str(kind), {name: text for name, text in values if name is not None}
    return str(kind), [text for _, text in values]


def _parameter(parameter: object, where: str) -> tuple[str | None, str]:
    value = _object(parameter, where)
    kind = _lower(value.get("type"))
    key = _PARAMETER_VALUE_KEYS.get(kind) if isinstance(kind, str) else None
    if key is None:
        allowed = ", ".join(sorted(_PARAMETER_VALUE_KEYS))
        raise InvalidRequest(f"Param {where}['type'] must be one of {{{allowed}}}, got {kind!r}.")
    if value.get(key) is None:
        raise InvalidRequest(f"The parameter {where}['{key}'] is required.")
    name = value.get("parameter_name")
    if name is not None and (not isinstance(name, str) or not name):
        raise InvalidRequest(f"Param {where}['parameter_name'] must be a non-empty string.")
    return name, _parameter_text(value[key])


def _parameter_text(value: object) -> str:
    if isinstance(value, Mapping):
        fallback = value.get("fallback_value")
        return str(fallback) if fallback is not None else ""
    return str(value)


# --------------------------------------------------------------------------- small readers


def _lower(value: object) -> object:
    """Component and parameter types are matched case-insensitively (``BODY``, ``body``)."""
    return value.lower() if isinstance(value, str) else value


def _object(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        raise InvalidRequest(f"The parameter {where} is required.")
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"Param {where} must be a JSON object.")
    return value


def _text(value: Mapping[str, Any], key: str, where: str) -> str:
    text = value.get(key)
    if text is None or text == "":
        raise InvalidRequest(f"The parameter {where} is required.")
    if not isinstance(text, str):
        raise InvalidRequest(f"Param {where} must be a string.")
    return text
