"""WhatsApp's side of one chat (business line, user), as the sandbox plays it. Pure.

WhatsApp keeps its own view of each chat and acts on it, and so does the sandbox:

- the **customer service window**: the user's last message or call + 24h
  (``domain.service_window``). A free-form message (anything but a template) sent
  while it is closed fails: one ``failed`` status with error 131047.
- the **free entry point**: a message from an ad (a ``referral``) answered within
  24h opens 72h in which every message is free (``domain.entry_point``).
- **billing**: the rules of the pricing era in force when the message is sent
  (``domain.pricing``), reported the way Meta reports them on statuses:

  - CBP: every message belongs to a 24h conversation of a category, which
    ``conversation`` names (``id``, ``expiration_timestamp``, ``origin.type``);
    ``pricing`` has the conversation's category and ``billable`` true for every
    message of a paid conversation (the charge is once per conversation). A free
    entry point conversation (``referral_conversion``) covers everything and is free.
  - PMP: ``pricing`` per message, with ``type`` (``regular``,
    ``free_customer_service``, ``free_entry_point``); no ``conversation`` object
    except inside a free entry point, as Meta does from Graph API v24.0 on. The
    first 1,000 service messages a month of a line are free in PMP-2 (the caller
    counts them: ``service_used``).

The sandbox prices a message at the moment it accepts it: its statuses follow at
once, so that is also when it is delivered. Before the first era (November 2024)
the sandbox applies the first era's rules.

Nothing here reads a clock or does I/O: time is an argument, and new ids come
from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from wawindow.domain.categories import Category, normalise_category, price_family
from wawindow.domain.entry_point import EntryPoint
from wawindow.domain.pricing import (
    ERAS,
    Billing,
    CbpConversations,
    Era,
    Model,
    PricingContext,
    era_at,
    estimate_cbp,
    estimate_pmp,
    message_category,
)
from wawindow.domain.service_window import ServiceWindow
from wawindow.domain.settlement import apply_free_tier

DEFAULT_TEMPLATE_CATEGORY = Category.UTILITY
"""The category of a template listed without one (Meta always gives one)."""


@dataclass(frozen=True, slots=True)
class ConversationReport:
    """The ``conversation`` object of a status: which billing conversation covers it."""

    id: str
    expires_at: datetime | None
    origin: str


@dataclass(frozen=True, slots=True)
class PricingReport:
    """The ``pricing`` object of a status; ``type`` is absent under CBP."""

    billable: bool
    model: str
    category: str
    type: str | None


@dataclass(frozen=True, slots=True)
class Delivered:
    """The message goes through: sent, delivered and read, with this billing."""

    pricing: PricingReport
    conversation: ConversationReport | None
    counts_toward_free_tier: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """The message fails after it was accepted: one ``failed`` status with ``error_code``."""

    error_code: int


Outcome = Delivered | Refused

RE_ENGAGEMENT_CODE = 131047


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the business sends, as far as the rules care: a template (and its category) or not."""

    is_template: bool
    template_category: str | None = None

    @property
    def category(self) -> str:
        if not self.is_template:
            return message_category(False, None) or Category.SERVICE
        return normalise_category(self.template_category) or DEFAULT_TEMPLATE_CATEGORY


@dataclass(frozen=True, slots=True)
class OpenConversation:
    """A CBP billing conversation WhatsApp opened: its category family, end and id."""

    family: str
    until: datetime
    id: str


@dataclass(frozen=True, slots=True)
class Chat:
    """What WhatsApp knows of one (business line, user) chat."""

    window: ServiceWindow = field(default_factory=ServiceWindow)
    entry_point: EntryPoint = field(default_factory=EntryPoint)
    entry_point_conversation_id: str | None = None
    cbp: CbpConversations = field(default_factory=CbpConversations)
    conversations: tuple[OpenConversation, ...] = ()

    def window_open(self, at: datetime) -> bool:
        return self.window.is_open(at)


@dataclass(frozen=True, slots=True)
class Sent:
    """The chat after a send, and what becomes of the message."""

    chat: Chat
    outcome: Outcome


def receive(chat: Chat, at: datetime, message_id: str, from_referral: bool = False) -> Chat:
    """The user wrote at ``at``: the window (re)opens; a referral starts a lead."""
    entry_point = chat.entry_point
    if from_referral:
        entry_point = entry_point.on_referral(at, message_id)
    return replace(chat, window=chat.window.on_inbound(at), entry_point=entry_point)


def call(chat: Chat, at: datetime) -> Chat:
    """The user called at ``at``: the window (re)opens, as with a message."""
    return replace(chat, window=chat.window.on_inbound(at))


def send(
    chat: Chat,
    message: Outgoing,
    at: datetime,
    *,
    new_conversation_id: str,
    service_used: int = 0,
) -> Sent:
    """What becomes of ``message`` sent at ``at``.

    ``new_conversation_id`` names a conversation this send opens, if it opens one
    (at most one: a free entry point, or a CBP conversation). ``service_used``
    is how many service messages the line had delivered that month (PMP-2's
    monthly free tier).
    """
    if not message.is_template and not chat.window.is_open(at):
        return Sent(chat, Refused(RE_ENGAGEMENT_CODE))
    chat = _answer_lead(chat, at, new_conversation_id)
    era = era_at(at, UTC) or ERAS[0]
    context = PricingContext(chat.window.is_open(at), chat.entry_point.is_open(at))
    if era.model is Model.CBP:
        return _send_cbp(chat, message.category, era, context, at, new_conversation_id)
    return Sent(chat, _deliver_pmp(chat, message.category, era, context, service_used))


def _answer_lead(chat: Chat, at: datetime, conversation_id: str) -> Chat:
    """A business message within 24h of an ad's message opens the free entry point."""
    before = chat.entry_point
    after = before.on_business_message(at)
    if after == before:
        return chat
    opened = after.opened_at == at and before.opened_at != at
    fep_id = conversation_id if opened else chat.entry_point_conversation_id
    return replace(chat, entry_point=after, entry_point_conversation_id=fep_id)


def _entry_point_conversation(chat: Chat) -> ConversationReport:
    fep_id = chat.entry_point_conversation_id or ""
    return ConversationReport(fep_id, chat.entry_point.expires_at, Category.REFERRAL_CONVERSION)


def _deliver_pmp(
    chat: Chat, category: str, era: Era, context: PricingContext, service_used: int
) -> Delivered:
    billing = estimate_pmp(era, category, context)
    counted = billing.counts_toward_free_tier
    if counted and era.free_service_messages_per_month is not None:
        billing = apply_free_tier(billing, service_used >= era.free_service_messages_per_month)
    conversation = _entry_point_conversation(chat) if context.entry_point_open else None
    return Delivered(_pricing(billing, billing.billable, with_type=True), conversation, counted)


def _send_cbp(
    chat: Chat,
    category: str,
    era: Era,
    context: PricingContext,
    at: datetime,
    conversation_id: str,
) -> Sent:
    billing, cbp = estimate_cbp(era, category, context, chat.cbp, at)
    if context.entry_point_open:
        # The free entry point conversation covers everything, and is free.
        report = _entry_point_conversation(chat)
        return Sent(chat, Delivered(_pricing(billing, False, with_type=False), report))
    family = price_family(billing.category)
    until = cbp.open_at(at)[family]
    kept = tuple(c for c in chat.conversations if at < c.until)
    covering = next((c for c in kept if c.family == family and c.until == until), None)
    if covering is None:
        covering = OpenConversation(family, until, conversation_id)
        kept = (*kept, covering)
    chat = replace(chat, cbp=cbp, conversations=kept)
    report = ConversationReport(covering.id, covering.until, family)
    # Meta marks every message of a paid conversation billable; the charge is the conversation.
    paid = family != Category.SERVICE
    return Sent(chat, Delivered(_pricing(billing, paid, with_type=False), report))


def _pricing(billing: Billing, billable: bool, *, with_type: bool) -> PricingReport:
    kind = str(billing.type) if with_type else None
    return PricingReport(billable, str(billing.model), str(billing.category), kind)
