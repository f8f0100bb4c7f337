"""Meta's webhook bodies, built the way WhatsApp writes them. Pure: no I/O.

Every body is one ``whatsapp_business_account`` entry with one change::

    {"object": "whatsapp_business_account",
     "entry": [{"id": "<WABA id>", "changes": [{"value": {
         "messaging_product": "whatsapp",
         "metadata": {"display_phone_number": "...", "phone_number_id": "..."},
         "contacts": [...], "messages": [...] | "statuses": [...] | "calls": [...]},
       "field": "messages" | "calls"}]}]}

Users are named as Meta names them since BSUIDs arrived (April 2026): the phone
number (``wa_id``, ``from``, ``recipient_id``) when the business may see it, and the
business-scoped user id (``user_id``, ``from_user_id``, ``recipient_user_id``)
always; a user who hides their number has only the latter. ``contacts[]`` comes
with messages, calls and statuses, except ``failed`` statuses, which have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from wawindow.entrypoints.sandbox.simulation import ConversationReport, PricingReport

WEBHOOK_OBJECT: Final = "whatsapp_business_account"
SDP_PLACEHOLDER: Final = "<RFC 8866 SDP offer: the sandbox places no real calls>"


@dataclass(frozen=True, slots=True)
class Business:
    """The business line a body is about, and its WhatsApp Business Account."""

    account_id: str
    phone_number_id: str
    display_phone_number: str


@dataclass(frozen=True, slots=True)
class Person:
    """A WhatsApp user as a body names them."""

    wa_id: str | None
    user_id: str | None
    name: str | None = None
    username: str | None = None


def unix(at: datetime) -> str:
    """WhatsApp writes times as Unix seconds in a string."""
    return str(int(at.timestamp()))


def webhook(business: Business, field: str, items: dict[str, Any]) -> dict[str, Any]:
    """The envelope around one change of ``field`` whose value holds ``items``."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": business.display_phone_number,
            "phone_number_id": business.phone_number_id,
        },
        **items,
    }
    change = {"value": value, "field": field}
    return {"object": WEBHOOK_OBJECT, "entry": [{"id": business.account_id, "changes": [change]}]}


def contact(person: Person) -> dict[str, Any]:
    profile: dict[str, Any] = {"name": person.name or ""}
    if person.username:
        profile["username"] = person.username
    block: dict[str, Any] = {"profile": profile}
    if person.wa_id:
        block["wa_id"] = person.wa_id
    if person.user_id:
        block["user_id"] = person.user_id
    return block


def _sender(person: Person) -> dict[str, Any]:
    sender: dict[str, Any] = {}
    if person.wa_id:
        sender["from"] = person.wa_id
    if person.user_id:
        sender["from_user_id"] = person.user_id
    return sender


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True, slots=True)
class InboundContent:
    """What the user sent: the message ``type`` and its object (``{"body": ...}`` for text)."""

    type: str
    content: dict[str, Any]
    context: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None


def inbound_message(
    business: Business, person: Person, message_id: str, at: datetime, sent: InboundContent
) -> dict[str, Any]:
    """``messages[]`` with one message the user sent, and its ``contacts[]``."""
    message: dict[str, Any] = {}
    if sent.context is not None:
        message["context"] = sent.context
    if sent.referral is not None:
        message["referral"] = sent.referral
    message.update(_sender(person))
    message.update({"id": message_id, "timestamp": unix(at), "type": sent.type})
    message[sent.type] = sent.content
    return webhook(business, "messages", {"contacts": [contact(person)], "messages": [message]})


def text(body: str) -> InboundContent:
    return InboundContent("text", {"body": body})


def quick_reply(
    business: Business, text_: str, payload: str, replied_to: str | None
) -> InboundContent:
    """A tap on a template's quick-reply button (``type: button``)."""
    context = {"from": business.display_phone_number, "id": replied_to} if replied_to else None
    return InboundContent("button", {"payload": payload, "text": text_}, context)


def reaction(message_id: str, emoji: str) -> InboundContent:
    return InboundContent("reaction", {"message_id": message_id, "emoji": emoji})


# --------------------------------------------------------------------------- statuses


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One status of one message the business sent."""

    message_id: str
    status: str
    at: datetime
    pricing: PricingReport | None = None
    conversation: ConversationReport | None = None
    errors: tuple[dict[str, Any], ...] = ()
    opaque: str | None = None  # the send's biz_opaque_callback_data, echoed


def status_update(business: Business, person: Person, report: StatusReport) -> dict[str, Any]:
    """``statuses[]`` with one status; ``contacts[]`` unless it is ``failed``."""
    status: dict[str, Any] = {
        "id": report.message_id,
        "status": report.status,
        "timestamp": unix(report.at),
    }
    if person.wa_id:
        status["recipient_id"] = person.wa_id
    if person.user_id:
        status["recipient_user_id"] = person.user_id
    if report.opaque is not None:
        status["biz_opaque_callback_data"] = report.opaque
    if report.conversation is not None:
        # Meta sends the conversation's expiry with the ``sent`` status only.
        status["conversation"] = _conversation(report.conversation, report.status == "sent")
    if report.pricing is not None:
        status["pricing"] = _pricing(report.pricing)
    if report.errors:
        status["errors"] = list(report.errors)
    items: dict[str, Any] = {"statuses": [status]}
    if report.status != "failed":
        items = {"contacts": [contact(person)], **items}
    return webhook(business, "messages", items)


def _conversation(report: ConversationReport, with_expiry: bool) -> dict[str, Any]:
    conversation: dict[str, Any] = {"id": report.id}
    if with_expiry and report.expires_at is not None:
        conversation["expiration_timestamp"] = unix(report.expires_at)
    conversation["origin"] = {"type": report.origin}
    return conversation


def _pricing(report: PricingReport) -> dict[str, Any]:
    pricing: dict[str, Any] = {"billable": report.billable, "pricing_model": report.model}
    if report.type is not None:
        pricing["type"] = report.type
    pricing["category"] = report.category
    return pricing


# --------------------------------------------------------------------------- calls


def user_call(
    business: Business,
    person: Person,
    call_id: str,
    at: datetime,
    event: str,
    started_at: datetime | None = None,
) -> dict[str, Any]:
    """``calls[]`` with a call the user started: ``connect``, or ``terminate`` when it ended."""
    call: dict[str, Any] = {"id": call_id, **_sender(person), "to": business.display_phone_number}
    call.update({"event": event, "timestamp": unix(at), "direction": "USER_INITIATED"})
    if event == "connect":
        call["session"] = {"sdp_type": "offer", "sdp": SDP_PLACEHOLDER}
    elif event == "terminate":
        start = started_at or at
        call.update(
            {
                "status": "COMPLETED",
                "start_time": unix(start),
                "end_time": unix(at),
                "duration": int((at - start).total_seconds()),
            }
        )
    return webhook(business, "calls", {"contacts": [contact(person)], "calls": [call]})
