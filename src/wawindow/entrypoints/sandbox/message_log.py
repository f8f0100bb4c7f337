"""What the sandbox sent and received, with the webhooks it posted about each message.

``GET /sandbox/messages`` shows this log, so a person (or a test) can see what
became of every message: the request, the outcome (delivered or failed, with the
error), the pricing and conversation reported, and each status with the state of
its webhook post.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from wawindow.domain.times import iso_z
from wawindow.entrypoints.sandbox.delivery import WebhookPost
from wawindow.entrypoints.sandbox.simulation import ConversationReport, PricingReport
from wawindow.entrypoints.sandbox.users import User


def post_view(post: WebhookPost) -> dict[str, Any]:
    return {
        "number": post.number,
        "field": post.webhook_field,
        "state": post.state,
        "attempts": post.attempts,
        "status_code": post.status_code,
        "error": post.error,
    }


@dataclass(frozen=True, slots=True)
class TemplateUse:
    name: str
    language: str
    category: str | None


@dataclass
class StatusLog:
    status: str
    at: datetime
    post: WebhookPost


@dataclass
class SentMessage:
    """A message the business sent through the sandbox's Cloud API."""

    id: str
    phone_number_id: str
    user: User
    input: str
    type: str
    at: datetime
    request: dict[str, Any]
    template: TemplateUse | None = None
    error: dict[str, Any] | None = None
    pricing: PricingReport | None = None
    conversation: ConversationReport | None = None
    statuses: list[StatusLog] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        template = self.template
        return {
            "id": self.id,
            "direction": "outbound",
            "phone_number_id": self.phone_number_id,
            "wa_id": self.user.wa_id,
            "user_id": self.user.bsuid,
            "input": self.input,
            "type": self.type,
            "at": iso_z(self.at),
            "template": None
            if template is None
            else {
                "name": template.name,
                "language": template.language,
                "category": template.category,
            },
            "outcome": "failed" if self.error else "delivered",
            "error": self.error,
            "pricing": None if self.pricing is None else _pricing_view(self.pricing),
            "conversation": None
            if self.conversation is None
            else _conversation_view(self.conversation),
            "statuses": [
                {"status": s.status, "at": iso_z(s.at), "webhook": post_view(s.post)}
                for s in self.statuses
            ],
            "request": self.request,
        }


@dataclass
class ReceivedMessage:
    """A message or call a user made (``/sandbox/inbound``, ``/sandbox/call``)."""

    id: str
    phone_number_id: str
    user: User
    type: str
    at: datetime
    post: WebhookPost
    body: dict[str, Any]
    from_referral: bool = False
    read: bool = False
    event: str | None = None  # calls: connect or terminate

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": "inbound",
            "phone_number_id": self.phone_number_id,
            "wa_id": self.user.wa_id,
            "user_id": self.user.bsuid,
            "type": self.type,
            "event": self.event,
            "at": iso_z(self.at),
            "from_referral": self.from_referral,
            "read": self.read,
            "webhook": post_view(self.post),
            "body": self.body,
        }


def _pricing_view(pricing: PricingReport) -> dict[str, Any]:
    return {
        "billable": pricing.billable,
        "pricing_model": pricing.model,
        "category": pricing.category,
        "type": pricing.type,
    }


def _conversation_view(conversation: ConversationReport) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "expires_at": iso_z(conversation.expires_at),
        "origin": conversation.origin,
    }


Direction = Literal["inbound", "outbound"]


class MessageLog:
    """Every message in the order it happened, by id."""

    def __init__(self) -> None:
        self._messages: dict[str, SentMessage | ReceivedMessage] = {}

    def add(self, message: SentMessage | ReceivedMessage) -> None:
        self._messages[message.id] = message

    def get(self, message_id: str) -> SentMessage | ReceivedMessage | None:
        return self._messages.get(message_id)

    def select(
        self, phone_number_id: str | None = None, direction: Direction | None = None
    ) -> list[SentMessage | ReceivedMessage]:
        kind = {"inbound": ReceivedMessage, "outbound": SentMessage}.get(direction or "")
        return [
            m
            for m in self._messages.values()
            if (phone_number_id is None or m.phone_number_id == phone_number_id)
            and (kind is None or isinstance(m, kind))
        ]
