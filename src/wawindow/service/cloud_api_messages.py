"""Cloud API message bodies: the one wawindow sends, and reading one a client sends.

What goes to ``POST /{phone_number_id}/messages``: ``messaging_product``, the
recipient (``to``, a phone number, or ``recipient``, a business-scoped user id),
``type`` and the object of that name (``{"type": "text", "text": {"body": …}}``),
and for a template its name, language and components, the body parameters
positional (``{"type": "text", "text": …}``) or named (``"parameter_name"``).

``read_send`` reads a body written for the Cloud API (the Graph proxy's input):
which recipient, which type, which template. A body that is not a send (mark as
read, typing indicator: they carry ``status``) is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wawindow.domain.facts import TemplateRef
from wawindow.domain.identity import Identifier, IdentifierKind, Identity, normalise_wa_id


@dataclass(frozen=True, slots=True)
class Address:
    """Where a message goes: a WhatsApp id (phone number) or a BSUID."""

    kind: str  # IdentifierKind.WA_ID or IdentifierKind.BSUID
    value: str

    @staticmethod
    def phone(value: str) -> Address:
        return Address(IdentifierKind.WA_ID, normalise_wa_id(value))

    @staticmethod
    def bsuid(value: str) -> Address:
        return Address(IdentifierKind.BSUID, value)

    @property
    def identifier(self) -> Identifier:
        return Identifier(self.kind, self.value)

    def identity(self) -> Identity:
        if self.kind == IdentifierKind.WA_ID:
            return Identity.of(wa_id=self.value)
        return Identity.of(bsuid=self.value)

    def fields(self) -> dict[str, Any]:
        return (
            {"to": self.value} if self.kind == IdentifierKind.WA_ID else {"recipient": self.value}
        )


@dataclass(frozen=True, slots=True)
class FreeForm:
    """A message that is not a template: its type and the object of that type."""

    type: str
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TemplateMessage:
    """A template to send: body parameters positional or named; ``components`` are any
    other components (header, buttons) sent as given."""

    name: str
    language: str | None = None
    parameters: Sequence[str] | Mapping[str, str] = ()
    components: tuple[Mapping[str, Any], ...] = field(default=())


def message_body(
    address: Address,
    free_form: FreeForm | None,
    template: TemplateMessage | None,
    language: str | None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """The Cloud API body of a free-form message or of ``template`` in ``language``."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **address.fields(),
    }
    if reply_to is not None:
        body["context"] = {"message_id": reply_to}
    if template is not None:
        body["type"] = "template"
        body["template"] = template_object(template, language)
    elif free_form is not None:
        body["type"] = free_form.type
        body[free_form.type] = dict(free_form.content)
    return body


def template_object(template: TemplateMessage, language: str | None) -> dict[str, Any]:
    components = [dict(c) for c in template.components]
    parameters = body_parameters(template.parameters)
    if parameters:
        components.append({"type": "body", "parameters": parameters})
    found: dict[str, Any] = {"name": template.name}
    if language is not None:
        found["language"] = {"code": language}
    if components:
        found["components"] = components
    return found


def body_parameters(parameters: Sequence[str] | Mapping[str, str]) -> list[dict[str, str]]:
    if isinstance(parameters, Mapping):
        return [
            {"type": "text", "parameter_name": name, "text": value}
            for name, value in parameters.items()
        ]
    return [{"type": "text", "text": value} for value in parameters]


def message_id(reply: Mapping[str, object]) -> str | None:
    """The wamid of a send's answer (``messages[0].id``)."""
    messages = reply.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        found = messages[0].get("id")
        return found if isinstance(found, str) and found else None
    return None


def answered_identity(reply: Mapping[str, object]) -> Identity:
    """Who WhatsApp says the message went to (``contacts[0]``: ``wa_id``, ``user_id``)."""
    contacts = reply.get("contacts")
    if not isinstance(contacts, list) or not contacts or not isinstance(contacts[0], dict):
        return Identity()
    contact = contacts[0]
    wa_id, user_id = contact.get("wa_id"), contact.get("user_id")
    return Identity.of(
        wa_id=wa_id if isinstance(wa_id, str) else None,
        bsuid=user_id if isinstance(user_id, str) else None,
    )


# --------------------------------------------------------------------------- reading a send


class NotASend(ValueError):
    """A body that claims to be a send and is not one WhatsApp would take; names the field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ReadSend:
    """A Cloud API send as a client wrote it."""

    address: Address
    type: str
    template: TemplateRef | None
    free_form: FreeForm | None


def read_send(body: Mapping[str, Any]) -> ReadSend | None:
    """The send in a Cloud API body; ``None`` for a request that sends nothing."""
    if "status" in body:
        return None  # mark as read / typing indicator
    address = _address(body)
    kind = body.get("type", "text")  # the Cloud API's default type
    if not isinstance(kind, str) or not kind:
        raise NotASend("type must be a message type such as text or template", "type")
    if kind != "template":
        content = body.get(kind)
        return ReadSend(
            address, kind, None, FreeForm(kind, content if isinstance(content, dict) else {})
        )
    template = body.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("name"), str):
        raise NotASend("a template message needs template.name", "template.name")
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else language
    return ReadSend(
        address,
        kind,
        TemplateRef(template["name"], code if isinstance(code, str) else None),
        None,
    )


def _address(body: Mapping[str, Any]) -> Address:
    to, recipient = body.get("to"), body.get("recipient")
    if isinstance(to, str | int) and str(to).strip():
        return Address.phone(str(to))
    if isinstance(recipient, str) and recipient.strip():
        return Address.bsuid(recipient.strip())
    raise NotASend("a message needs to (a phone number) or recipient (a BSUID)", "to")
