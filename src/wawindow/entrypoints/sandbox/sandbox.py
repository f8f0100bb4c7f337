"""One running sandbox: its clock, users, chats, templates, log, faults and webhook queue.

The routes (``app``) read requests and render answers; everything the sandbox
decides happens here, with the rules of ``simulation`` and the bodies of
``webhook_bodies``. All of it runs on the event loop's one thread, and no method
awaits halfway through a change, so requests never see a half-made state.

Bodies are encoded the way Meta encodes them: compact JSON, non-ASCII escaped
(``\\u00e9``) and ``/`` written ``\\/``, so a receiver that checks the signature on
re-serialised JSON instead of the raw bytes finds out at once.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from wawindow.entrypoints.sandbox import simulation
from wawindow.entrypoints.sandbox.clock import SandboxClock, WallClock, wall_clock
from wawindow.entrypoints.sandbox.delivery import DeliverySettings, WebhookPost, WebhookSender
from wawindow.entrypoints.sandbox.graph_errors import (
    GraphError,
    bad_access_token,
    error_for_code,
    error_for_status,
)
from wawindow.entrypoints.sandbox.ids import IdSource
from wawindow.entrypoints.sandbox.message_log import (
    MessageLog,
    ReceivedMessage,
    SentMessage,
    StatusLog,
    TemplateUse,
)
from wawindow.entrypoints.sandbox.send_requests import MessageRequest, ReadReceipt
from wawindow.entrypoints.sandbox.simulation import Chat, Delivered, Outgoing, Refused
from wawindow.entrypoints.sandbox.template_list import TemplateList
from wawindow.entrypoints.sandbox.users import User, UserBook
from wawindow.entrypoints.sandbox.webhook_bodies import (
    Business,
    InboundContent,
    StatusReport,
    inbound_message,
    status_update,
    user_call,
)

DEFAULT_DISPLAY_PHONE_NUMBER: Final = "15550783881"
DEFAULT_ACCOUNT_ID: Final = "102290129340398"


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """How the sandbox was started (``wawindow sandbox`` options)."""

    webhook_url: str
    app_secret: str
    access_token: str | None = None
    seed: int | None = None
    time_offset: timedelta = timedelta(0)
    start_at: datetime | None = None
    frozen_clock: bool = False
    status_delay: float = 0.2
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER
    account_id: str = DEFAULT_ACCOUNT_ID
    webhook_attempts: int = 5
    webhook_backoff: float = 0.25
    templates: tuple[object, ...] = ()  # template listings to load at start


@dataclass(frozen=True, slots=True)
class Fault:
    """How to answer one coming send request: after ``delay_seconds``, with an error or not."""

    status: int | None = None
    error_code: int | None = None
    delay_seconds: float = 0.0

    def error(self) -> GraphError | None:
        if self.error_code is not None:
            return error_for_code(self.error_code, self.status)
        if self.status is not None:
            return error_for_status(self.status)
        return None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A send request WhatsApp accepted: the answer to give, and the message it made."""

    answer: dict[str, Any]
    message: SentMessage


@dataclass(frozen=True, slots=True)
class Referral:
    """The ad (or post) a user came from; the sandbox fills in what is not given."""

    source_type: str = "ad"
    source_id: str | None = None
    source_url: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    ctwa_clid: str | None = None


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends an inbound message or call: a phone number, a BSUID, or both."""

    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    name: str | None = None
    username: str | None = None


def encode(document: dict[str, Any]) -> bytes:
    """JSON the way Meta writes it: compact, ASCII only, slashes escaped."""
    return json.dumps(document, separators=(",", ":")).replace("/", "\\/").encode()


class Sandbox:
    def __init__(
        self,
        settings: SandboxSettings,
        wall: WallClock = wall_clock,
        sender: WebhookSender | None = None,
    ) -> None:
        self.settings = settings
        self.clock = SandboxClock(wall, settings.time_offset)
        if settings.start_at is not None:
            self.clock.set_at(settings.start_at)
        if settings.frozen_clock:
            self.clock.freeze()
        self.ids = IdSource(settings.seed)
        self.users = UserBook(self.ids)
        self.templates = TemplateList()
        for listing in settings.templates:
            self.templates.load(listing)
        self.log = MessageLog()
        self.faults: deque[Fault] = deque()
        self.sender = sender or WebhookSender(
            DeliverySettings(
                settings.webhook_url,
                settings.app_secret,
                attempts=settings.webhook_attempts,
                backoff=settings.webhook_backoff,
            )
        )
        self._chats: dict[tuple[str, int], Chat] = {}
        self._service_used: dict[tuple[str, int, int], int] = {}
        self._calls: dict[str, datetime] = {}

    # ----------------------------------------------------------------------- the Cloud API

    def check_token(self, authorization: str | None) -> GraphError | None:
        """Any bearer token is good unless the sandbox was started with one."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return bad_access_token(missing=True)
        expected = self.settings.access_token
        if expected is not None and token.strip() != expected:
            return bad_access_token(missing=False)
        return None

    def next_fault(self) -> Fault | None:
        return self.faults.popleft() if self.faults else None

    def send(
        self, phone_number_id: str, request: MessageRequest, document: dict[str, Any]
    ) -> Accepted | GraphError:
        """Accept a message (its statuses follow by webhook), or the error WhatsApp answers.

        ``document`` is the request's JSON, kept in the log as it came."""
        template = None
        if request.template is not None:
            found, error = self.templates.check_send(request.template)
            if error is not None:
                return error
            assert found is not None
            template = TemplateUse(found.name, found.language, found.category)
        at = self.clock.now()
        user = self.users.identify(request.wa_id, request.recipient)
        message = SentMessage(
            id=self.ids.message_id(),
            phone_number_id=phone_number_id,
            user=user,
            input=request.input,
            type=request.type,
            at=at,
            request=document,
            template=template,
        )
        outcome = self._apply_send(message, template)
        self.log.add(message)
        self._post_statuses(message, outcome, request.biz_opaque_callback_data)
        return Accepted(_send_answer(request, user, message), message)

    def _apply_send(self, message: SentMessage, template: TemplateUse | None) -> simulation.Outcome:
        key = (message.phone_number_id, message.user.key)
        month = (message.phone_number_id, message.at.year, message.at.month)
        outgoing = Outgoing(template is not None, template.category if template else None)
        sent = simulation.send(
            self._chats.get(key, Chat()),
            outgoing,
            message.at,
            new_conversation_id=self.ids.conversation_id(),
            service_used=self._service_used.get(month, 0),
        )
        self._chats[key] = sent.chat
        outcome = sent.outcome
        if isinstance(outcome, Delivered):
            message.pricing, message.conversation = outcome.pricing, outcome.conversation
            if outcome.counts_toward_free_tier:
                self._service_used[month] = self._service_used.get(month, 0) + 1
        else:
            message.error = error_for_code(outcome.error_code).status_entry()
        return outcome

    def _post_statuses(
        self, message: SentMessage, outcome: simulation.Outcome, opaque: str | None
    ) -> None:
        at = message.at
        if isinstance(outcome, Refused):
            errors = (error_for_code(outcome.error_code).status_entry(),)
            reports = [StatusReport(message.id, "failed", at, errors=errors, opaque=opaque)]
        else:
            billed = StatusReport(
                message.id, "sent", at, outcome.pricing, outcome.conversation, opaque=opaque
            )
            reports = [
                billed,
                # Meta reports pricing with ``sent`` and one of ``delivered``/``read``.
                replace(billed, status="delivered"),
                StatusReport(message.id, "read", at, opaque=opaque),
            ]
        business = self.business(message.phone_number_id)
        person = message.user.person()
        for number, report in enumerate(reports, start=1):
            body = encode(status_update(business, person, report))
            post = self.sender.post("messages", body, self.settings.status_delay * number)
            message.statuses.append(StatusLog(report.status, report.at, post))

    def mark_read(self, phone_number_id: str, receipt: ReadReceipt) -> dict[str, Any]:
        """The business read a user's message (the sandbox notes it; WhatsApp shows blue ticks)."""
        message = self.log.get(receipt.message_id)
        if isinstance(message, ReceivedMessage) and message.phone_number_id == phone_number_id:
            message.read = True
        return {"success": True}

    # ----------------------------------------------------------------------- users write

    def business(self, phone_number_id: str) -> Business:
        return Business(
            self.settings.account_id, phone_number_id, self.settings.display_phone_number
        )

    def user_of(self, sender: Sender) -> User:
        return self.users.identify(sender.wa_id, sender.user_id, sender.name, sender.username)

    def inbound(
        self, sender: Sender, sent: InboundContent, referral: Referral | None = None
    ) -> ReceivedMessage:
        """A user writes: the window opens, and WhatsApp's webhook goes out."""
        user = self.user_of(sender)
        at = self.clock.now()
        message_id = self.ids.message_id()
        if referral is not None:
            sent = InboundContent(sent.type, sent.content, sent.context, self._referral(referral))
        key = (sender.phone_number_id, user.key)
        chat = self._chats.get(key, Chat())
        self._chats[key] = simulation.receive(chat, at, message_id, referral is not None)
        body = inbound_message(
            self.business(sender.phone_number_id), user.person(), message_id, at, sent
        )
        post = self.sender.post("messages", encode(body))
        message = ReceivedMessage(
            message_id,
            sender.phone_number_id,
            user,
            sent.type,
            at,
            post,
            body,
            referral is not None,
        )
        self.log.add(message)
        return message

    def _referral(self, referral: Referral) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "source_url": referral.source_url or "https://fb.me/sandbox-ad",
            "source_id": referral.source_id or "120210000000000001",
            "source_type": referral.source_type,
            "headline": referral.headline or "Sandbox ad",
            "body": referral.body or "An ad that clicks to WhatsApp",
            "media_type": referral.media_type or "image",
        }
        if wire["media_type"] == "image":
            wire["image_url"] = referral.image_url or "https://example.com/sandbox-ad.jpg"
        wire["ctwa_clid"] = referral.ctwa_clid or self.ids.ctwa_clid()
        return wire

    def call(
        self, sender: Sender, event: str = "connect", call_id: str | None = None
    ) -> ReceivedMessage:
        """A user calls the business (``connect``) or hangs up (``terminate``)."""
        user = self.user_of(sender)
        at = self.clock.now()
        call_id = call_id or self.ids.call_id()
        started = self._calls.get(call_id)
        if started is None:
            # A call WhatsApp hears of first opens the window, as any user call does.
            self._calls[call_id] = at
            key = (sender.phone_number_id, user.key)
            self._chats[key] = simulation.call(self._chats.get(key, Chat()), at)
        business = self.business(sender.phone_number_id)
        body = user_call(business, user.person(), call_id, at, event, started)
        post = self.sender.post("calls", encode(body))
        message = ReceivedMessage(
            call_id, sender.phone_number_id, user, "call", at, post, body, event=event
        )
        self.log.add(message)
        return message

    # ----------------------------------------------------------------------- views

    def chats(self) -> list[tuple[str, User, Chat]]:
        by_key = {user.key: user for user in self.users}
        return [(line, by_key[key], chat) for (line, key), chat in self._chats.items()]

    def posts(self) -> list[WebhookPost]:
        return self.sender.posts


def _send_answer(request: MessageRequest, user: User, message: SentMessage) -> dict[str, Any]:
    """``{"messaging_product", "contacts": [{"input", "wa_id"|"user_id"}], "messages": [...]}``."""
    contact: dict[str, Any] = {"input": request.input}
    if request.wa_id is not None:
        contact["wa_id"] = user.wa_id
    else:
        contact["user_id"] = user.bsuid
    sent: dict[str, Any] = {"id": message.id}
    if request.is_template:
        sent["message_status"] = "accepted"
    return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [sent]}
