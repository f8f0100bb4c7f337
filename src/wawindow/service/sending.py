"""Sending through the gate: ``POST /v1/messages``, the reply endpoint and the Graph proxy.

One send, in three short transactions and one call to WhatsApp:

1. read: the line (it must be the tenant's), the recipient (a phone number, a
   BSUID or a contact id), the thread's folded state, the line's templates and
   the month's delivered service messages; ``decide`` at the services' clock.
   A dry run stops here and returns the decision with its expected billing,
   priced on the tenant's rate card.
2. write: the send is recorded ``queued``, with its idempotency key.
3. the WhatsApp client sends it (retrying only what surely was not sent).
4. write: an accepted send becomes an ``OutboundMessage`` fact of its thread
   (through the ``Ingestor``, so its conversation, statuses and billing follow)
   and the send ``accepted`` with its wamid, in one transaction. A refusal is
   recorded ``failed`` with WhatsApp's error as it said it; a request that got no
   answer is ``unknown`` and is never sent again.

No transaction is open while WhatsApp is called.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from wawindow.domain.facts import OutboundMessage, OutboundSource, TemplateRef
from wawindow.domain.identity import Identifier, IdentifierKind, Identity
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import Billing, era_at
from wawindow.domain.rate_card import Cost, RateCard, cost_of
from wawindow.domain.send_gate import Decision, SendRequest, TemplateSend, decide
from wawindow.domain.templates import Template, find_template
from wawindow.domain.thread import ThreadState
from wawindow.domain.times import local_date
from wawindow.service.cloud_api_messages import (
    Address,
    FreeForm,
    TemplateMessage,
    answered_identity,
    message_body,
    message_id,
    read_send,
)
from wawindow.service.contacts import NotFound, StoredContact
from wawindow.service.idempotency import earlier_send, is_stale
from wawindow.service.ingest import Ingestor, IngestOutcome, ThreadReader, policy_for
from wawindow.service.messages_query import month_bounds
from wawindow.service.ports import (
    GraphLine,
    GraphReply,
    IngestStore,
    LineInfo,
    SendOutcomeUnknown,
    ThreadRef,
    WhatsAppClient,
    WhatsAppUnreachable,
)
from wawindow.service.send_records import (
    FailureKind,
    SendOutcome,
    SendRecord,
    SendSource,
    SendState,
    failure,
    whatsapp_error,
)
from wawindow.service.tenant_settings import policy_from_settings

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class SendLine:
    """A business line with what sending needs: its access token and Graph base URL."""

    info: LineInfo
    access_token: str | None
    graph_base_url: str | None

    @property
    def id(self) -> str:
        return self.info.phone_number_id


@dataclass(frozen=True, slots=True)
class Recipient:
    """Exactly one of: a phone number (any format), a BSUID, a contact id."""

    phone: str | None = None
    bsuid: str | None = None
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A send request: free-form or a template, or free-form with a fallback template."""

    line: str
    recipient: Recipient
    free_form: FreeForm | None = None
    template: TemplateMessage | None = None
    fallback_template: TemplateMessage | None = None
    reply_to: str | None = None

    def gate_request(self) -> SendRequest:
        return SendRequest(
            free_form_type=self.free_form.type if self.free_form is not None else None,
            template=_template_send(self.template),
            fallback_template=_template_send(self.fallback_template),
        )

    def chosen_template(self, decision: Decision) -> TemplateMessage | None:
        """The template the gate picked (the template, or the fallback)."""
        if decision.used != "template":
            return None
        return self.template if self.free_form is None else self.fallback_template


def _template_send(template: TemplateMessage | None) -> TemplateSend | None:
    if template is None:
        return None
    return TemplateSend(template.name, template.language, template.parameters)


@dataclass(frozen=True, slots=True)
class Quote:
    """The gate's decision for one request at ``at``, with its expected cost."""

    line: SendLine
    address: Address
    contact_id: str | None
    at: datetime
    state: ThreadState
    decision: Decision
    cost: Cost | None
    templates: tuple[Template, ...]


@dataclass(frozen=True, slots=True)
class SendResult:
    record: SendRecord
    replayed: bool = False  # the answer of an earlier request with the same idempotency key


# --------------------------------------------------------------------------- errors


class SendDenied(Exception):
    """The gate said no (window closed, template problem): nothing was sent."""

    def __init__(self, quote: Quote) -> None:
        super().__init__(quote.decision.detail or str(quote.decision.reason))
        self.quote = quote


class LineCannotSend(Exception):
    """The line has no access token, so wawindow cannot send for it."""

    def __init__(self, line: str) -> None:
        super().__init__(f"line {line} has no access token")
        self.line = line


class RecipientProblem(Exception):
    """The recipient cannot be written to as given; ``field`` names the input."""

    def __init__(self, message: str, field: str, lines: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.lines = tuple(lines)


# --------------------------------------------------------------------------- ports


class SendReader(ThreadReader, Protocol):
    """Reads of one transaction, for the gate and for idempotency."""

    def send_line(self, tenant_id: str, phone_number_id: str) -> SendLine | None: ...

    def resolve(self, tenant_id: str, contact_id: str) -> str | None: ...

    def contacts_with(self, tenant_id: str, identifier: Identifier) -> list[str]: ...

    def contact(self, tenant_id: str, contact_id: str) -> StoredContact | None: ...

    def thread_of(self, tenant_id: str, line: str, contact_id: str) -> ThreadRef | None:
        """The thread, without creating or locking it."""

    def line_templates(self, tenant_id: str, line: str) -> list[Template]: ...

    def service_delivered(
        self, tenant_id: str, line: str, start: datetime, end: datetime, limit: int
    ) -> int:
        """Free-tier candidates of the line delivered in ``[start, end)``, counted up to
        ``limit``."""

    def rate_card(self, tenant_id: str) -> RateCard: ...

    def market_of(self, identifier: str) -> str | None:
        """The country of a phone number or BSUID (``None`` when unknown)."""

    def tenant_settings(self, tenant_id: str) -> Mapping[str, Any]:
        """The tenant's stored settings (send margin, …)."""

    def send_by_key(self, tenant_id: str, key: str) -> SendRecord | None: ...


class SendWriter(IngestStore, Protocol):
    """One write transaction (ingest runs in it too)."""

    def send_by_key(self, tenant_id: str, key: str) -> SendRecord | None: ...

    def add_send(self, record: SendRecord) -> bool:
        """Insert ``record``; ``False`` when its idempotency key exists already."""

    def finish_send(self, send_id: str, outcome: SendOutcome, at: datetime) -> SendRecord: ...


class SendStores(Protocol):
    def reader(self) -> AbstractContextManager[SendReader]: ...

    def writer(self) -> AbstractContextManager[SendWriter]: ...


# --------------------------------------------------------------------------- the use case


@dataclass
class Sender:
    """Sends through the gate; one per process."""

    stores: SendStores
    ingestor: Ingestor
    client: WhatsAppClient
    default_base_url: str
    version: str

    # -- the gate -----------------------------------------------------------------------

    def quote(self, tenant_id: str, request: Outgoing, now: datetime) -> Quote:
        """The decision for ``request`` at ``now``, without sending (a dry run)."""
        with self.stores.reader() as reader:
            return self._quote(reader, tenant_id, request, now)

    def _quote(self, reader: SendReader, tenant_id: str, request: Outgoing, now: datetime) -> Quote:
        line = reader.send_line(tenant_id, request.line)
        if line is None:
            raise NotFound("phone_number_id", "this tenant has no business line with this id")
        address, contact_id = _address(reader, tenant_id, request.recipient)
        state = self._state(reader, tenant_id, line.info, contact_id)
        templates = tuple(reader.line_templates(tenant_id, line.id))
        policy = policy_for(line.info, policy_from_settings(reader.tenant_settings(tenant_id)))
        delivered = _service_delivered(reader, tenant_id, line.id, now, policy)
        decision = decide(state, request.gate_request(), templates, now, policy, delivered)
        cost = None
        if decision.expected_billing is not None:
            market = reader.market_of(address.value)
            day = local_date(now, policy.timezone)
            cost = expected_cost(
                reader.rate_card(tenant_id), market, decision.expected_billing, day
            )
        return Quote(line, address, contact_id, now, state, decision, cost, templates)

    def _state(
        self, reader: SendReader, tenant_id: str, line: LineInfo, contact_id: str | None
    ) -> ThreadState:
        thread = (
            None
            if contact_id is None
            else reader.thread_of(tenant_id, line.phone_number_id, contact_id)
        )
        if thread is None:
            return ThreadState(line.phone_number_id)
        return self.ingestor.thread_state(reader, thread, line)

    # -- sending ------------------------------------------------------------------------

    def send(
        self,
        tenant_id: str,
        request: Outgoing,
        now: datetime,
        source: SendSource,
        key: str | None,
        hashed: str,
    ) -> SendResult:
        """Send ``request`` if the gate allows it (``SendDenied`` otherwise)."""
        with self.stores.reader() as reader:
            earlier = _earlier(reader, tenant_id, key, hashed, now)
            if earlier is not None:
                return SendResult(self._settled(earlier, now), replayed=True)
            quote = self._quote(reader, tenant_id, request, now)
        if not quote.decision.allowed:
            raise SendDenied(quote)
        template = request.chosen_template(quote.decision)
        if template is None:
            free_form = request.free_form or FreeForm("text", {})
            body = message_body(quote.address, free_form, None, None, request.reply_to)
            return self._send(tenant_id, quote, body, source, key, hashed, free_form.type, None)
        chosen = quote.decision.template
        language = template.language or (chosen.language if chosen is not None else None)
        body = message_body(quote.address, None, template, language, request.reply_to)
        ref = TemplateRef(template.name, language)
        return self._send(tenant_id, quote, body, source, key, hashed, "template", ref)

    def reply(
        self,
        tenant_id: str,
        contact_id: str,
        line: str | None,
        text: str,
        now: datetime,
        key: str | None,
        hashed: str,
    ) -> SendResult:
        """A free-form text to a contact, only inside the window; the line is implied
        when the contact has a thread with one line only."""
        with self.stores.reader() as reader:
            line = line or _implied_line(reader, tenant_id, contact_id)
        request = Outgoing(
            line, Recipient(contact_id=contact_id), free_form=FreeForm("text", {"body": text})
        )
        return self.send(tenant_id, request, now, SendSource.REPLY, key, hashed)

    def _send(
        self,
        tenant_id: str,
        quote: Quote,
        body: dict[str, Any],
        source: SendSource,
        key: str | None,
        hashed: str,
        kind: str,
        template: TemplateRef | None,
    ) -> SendResult:
        graph_line = self._graph_line(quote.line)
        queued, earlier = self._queue(tenant_id, quote, source, key, hashed)
        if earlier is not None:
            return SendResult(earlier, replayed=True)
        fact_source = OutboundSource.PROXY if source is SendSource.PROXY else OutboundSource.API

        def fact(wamid: str, identity: Identity) -> OutboundMessage:
            category = _category(quote, template)
            return OutboundMessage(
                quote.line.id, wamid, quote.at, identity, kind, template, category, fact_source
            )

        record = self._deliver(queued, graph_line, body, quote, fact)
        return SendResult(record)

    def _queue(
        self, tenant_id: str, quote: Quote, source: SendSource, key: str | None, hashed: str
    ) -> tuple[SendRecord, SendRecord | None]:
        """Record the send ``queued``; or the earlier send when another request with the
        same key got in first (then the pair's second item is that send)."""
        queued = _new_record(tenant_id, quote, source, key, hashed)
        with self.stores.writer() as writer:
            if writer.add_send(queued):
                writer.commit()
                return queued, None
            earlier = _earlier(writer, tenant_id, key, hashed, quote.at)
        if earlier is None:  # pragma: no cover - the key exists: it was just found
            raise LookupError(key)
        return queued, earlier

    def _graph_line(self, line: SendLine) -> GraphLine:
        if not line.access_token:
            raise LineCannotSend(line.id)
        return GraphLine(line.id, line.access_token, line.graph_base_url or self.default_base_url)

    def _deliver(
        self,
        record: SendRecord,
        line: GraphLine,
        body: dict[str, Any],
        quote: Quote,
        fact: Callable[[str, Identity], OutboundMessage],
        version: str | None = None,
    ) -> SendRecord:
        try:
            reply = self.client.send(line, version or self.version, body, quote.address.value)
        except SendOutcomeUnknown as error:
            lost = failure(FailureKind.UNKNOWN, error.reason, error.attempts)
            return self._finish(record, SendOutcome(SendState.UNKNOWN, error=lost), quote.at)
        except WhatsAppUnreachable as error:
            down = failure(FailureKind.UNREACHABLE, error.reason, error.attempts)
            return self._finish(record, SendOutcome(SendState.FAILED, error=down), quote.at)
        wamid = message_id(reply.body)
        if reply.ok and wamid is not None:
            identity = quote.address.identity().union(answered_identity(reply.body))
            return self._accept(record, reply, fact(wamid, identity), quote.at)
        return self._finish(record, _refused(reply), quote.at)

    def _accept(
        self, record: SendRecord, reply: GraphReply, fact: OutboundMessage, now: datetime
    ) -> SendRecord:
        accepted: list[SendRecord] = []

        def finish(outcome: IngestOutcome, writer: SendWriter) -> None:
            contact = outcome.threads[0].contact_id if outcome.threads else record.contact_id
            done = SendOutcome(
                SendState.ACCEPTED, fact.message_id, contact, None, reply.status, reply.body
            )
            accepted.append(writer.finish_send(record.id, done, now))

        try:
            with self.stores.writer() as writer:
                self.ingestor.record(writer, [fact], now, lambda o: finish(o, writer))
        except Exception:
            # WhatsApp took the message: its send must not stay "queued" for ever. Its
            # status webhooks will bring the message into its thread.
            logger.exception("recording accepted send %s (%s) failed", record.id, fact.message_id)
            done = SendOutcome(
                SendState.ACCEPTED, fact.message_id, None, None, reply.status, reply.body
            )
            self._finish(record, done, now)
            raise
        return accepted[0]

    def _finish(self, record: SendRecord, outcome: SendOutcome, now: datetime) -> SendRecord:
        with self.stores.writer() as writer:
            finished = writer.finish_send(record.id, outcome, now)
            writer.commit()
        return finished

    def _settled(self, record: SendRecord, now: datetime) -> SendRecord:
        """A send queued so long ago that its process died while sending: ``unknown``."""
        if not is_stale(record, now):
            return record
        reason = "the process sending it stopped before recording WhatsApp's answer"
        lost = SendOutcome(SendState.UNKNOWN, error=failure(FailureKind.UNKNOWN, reason, 0))
        return self._finish(record, lost, now)

    # -- the Graph proxy -------------------------------------------------------------------

    def proxy(
        self,
        tenant_id: str,
        line_id: str,
        version: str,
        body: dict[str, Any],
        now: datetime,
        key: str | None,
        hashed: str,
    ) -> ProxyAnswer:
        """A Cloud API request for ``line_id``: a send goes through the gate (free-form
        only inside the window) and is recorded; anything else is forwarded as it is."""
        sent = read_send(body)
        if sent is None:
            return self._forward(tenant_id, line_id, version, body)
        request = Outgoing(
            line_id,
            Recipient(phone=sent.address.value)
            if sent.address.kind == IdentifierKind.WA_ID
            else Recipient(bsuid=sent.address.value),
            free_form=sent.free_form,
            template=None
            if sent.template is None
            else TemplateMessage(sent.template.name, sent.template.language),
        )
        with self.stores.reader() as reader:
            earlier = _earlier(reader, tenant_id, key, hashed, now)
            if earlier is not None:
                return ProxyAnswer(record=self._settled(earlier, now), replayed=True)
            quote = self._quote(reader, tenant_id, request, now)
        if sent.free_form is not None and not quote.decision.allowed:
            raise SendDenied(quote)
        # Templates go to WhatsApp, which checks them itself; the record keeps the gate's view.
        graph_line = self._graph_line(quote.line)
        queued, earlier = self._queue(tenant_id, quote, SendSource.PROXY, key, hashed)
        if earlier is not None:
            return ProxyAnswer(record=earlier, replayed=True)

        def fact(wamid: str, identity: Identity) -> OutboundMessage:
            return OutboundMessage(
                line_id,
                wamid,
                now,
                identity,
                sent.type,
                sent.template,
                _category(quote, sent.template),
                OutboundSource.PROXY,
            )

        record = self._deliver(queued, graph_line, body, quote, fact, version)
        return ProxyAnswer(record=record)

    def _forward(
        self, tenant_id: str, line_id: str, version: str, body: dict[str, Any]
    ) -> ProxyAnswer:
        with self.stores.reader() as reader:
            line = reader.send_line(tenant_id, line_id)
        if line is None:
            raise NotFound("phone_number_id", "this tenant has no business line with this id")
        graph_line = self._graph_line(line)
        try:
            reply = self.client.forward(graph_line, version, body)
        except SendOutcomeUnknown as error:
            return ProxyAnswer(error=failure(FailureKind.UNKNOWN, error.reason, error.attempts))
        except WhatsAppUnreachable as error:
            return ProxyAnswer(error=failure(FailureKind.UNREACHABLE, error.reason, error.attempts))
        return ProxyAnswer(reply=reply)


@dataclass(frozen=True, slots=True)
class ProxyAnswer:
    """What the Graph proxy answers: a send's record, or a forwarded request's reply
    (or why none came)."""

    record: SendRecord | None = None
    reply: GraphReply | None = None
    error: dict[str, Any] | None = None
    replayed: bool = False


# --------------------------------------------------------------------------- helpers


def _earlier(
    reader: SendReader | SendWriter, tenant_id: str, key: str | None, hashed: str, now: datetime
) -> SendRecord | None:
    if key is None:
        return None
    return earlier_send(reader.send_by_key(tenant_id, key), key, hashed, now)


def _address(
    reader: SendReader, tenant_id: str, recipient: Recipient
) -> tuple[Address, str | None]:
    """Where to send, and the contact it is (``None``: nobody the tenant knows yet)."""
    if recipient.contact_id is not None:
        return _contact_address(reader, tenant_id, recipient.contact_id)
    if recipient.phone is not None:
        address = Address.phone(recipient.phone)
    elif recipient.bsuid is not None:
        address = Address.bsuid(recipient.bsuid)
    else:
        raise RecipientProblem("give one of to, contact_id, bsuid", "to")
    owners = reader.contacts_with(tenant_id, address.identifier)
    return address, owners[0] if owners else None


def _contact_address(reader: SendReader, tenant_id: str, contact_id: str) -> tuple[Address, str]:
    survivor = reader.resolve(tenant_id, contact_id)
    contact = None if survivor is None else reader.contact(tenant_id, survivor)
    if contact is None:
        raise NotFound("contact_id", "this tenant has no contact with this id")
    for kind, make in (
        (IdentifierKind.WA_ID, Address.phone),
        (IdentifierKind.BSUID, Address.bsuid),
    ):
        values = sorted(i.value for i in contact.identifiers if i.kind == kind)
        if values:
            return make(values[0]), contact.id
    raise RecipientProblem("this contact has no phone number and no BSUID to send to", "contact_id")


def _implied_line(reader: SendReader, tenant_id: str, contact_id: str) -> str:
    survivor = reader.resolve(tenant_id, contact_id)
    contact = None if survivor is None else reader.contact(tenant_id, survivor)
    if contact is None:
        raise NotFound("contact_id", "this tenant has no contact with this id")
    lines = sorted({thread.line for thread in contact.threads})
    if len(lines) == 1:
        return lines[0]
    if not lines:
        message = "this contact has written to none of your lines; give phone_number_id"
    else:
        message = "this contact has threads with several lines; give phone_number_id"
    raise RecipientProblem(message, "phone_number_id", lines)


def _service_delivered(
    reader: SendReader, tenant_id: str, line: str, at: datetime, policy: Policy
) -> int:
    """How many service messages the line had delivered this month (up to the allowance)."""
    era = era_at(at, policy.timezone)
    allowance = era.free_service_messages_per_month if era is not None else None
    if allowance is None:
        return 0
    zone = policy.timezone if isinstance(policy.timezone, ZoneInfo) else ZoneInfo("UTC")
    start, end = month_bounds(at, zone)
    return reader.service_delivered(tenant_id, line, start, end, allowance)


def expected_cost(card: RateCard, market: str | None, billing: Billing, day: date) -> Cost:
    """The price of a billing on ``day`` (the card's currency, else another one that
    prices it), as the messages API prices a delivered message."""
    cost = cost_of(card, market, billing.category, billing.billable, day)
    if cost.price is not None:
        return cost
    for currency in card.currencies:
        rate = card.price(market, billing.category, day, currency)
        if rate is not None:
            return Cost(market, rate.price, rate.currency)
    return cost


def _category(quote: Quote, template: TemplateRef | None) -> str | None:
    """The category of the message sent: the gate's, else the registry's for a template."""
    if quote.decision.allowed and quote.decision.category is not None:
        return quote.decision.category
    if template is None:
        return None
    found = find_template(quote.templates, template.name, template.language)
    return found.category if found is not None else None


def _refused(reply: GraphReply) -> SendOutcome:
    if reply.ok:  # 2xx without a message id: WhatsApp may or may not have taken it
        error = failure(
            FailureKind.NO_MESSAGE_ID, "a 2xx answer without messages[0].id", reply.attempts
        )
        return SendOutcome(SendState.UNKNOWN, None, None, error, reply.status, reply.body)
    error = whatsapp_error(reply.status, reply.body)
    return SendOutcome(SendState.FAILED, None, None, error, reply.status, reply.body)


def _new_record(
    tenant_id: str, quote: Quote, source: SendSource, key: str | None, hashed: str
) -> SendRecord:
    return SendRecord(
        id=f"snd_{secrets.token_hex(12)}",
        tenant_id=tenant_id,
        line=quote.line.id,
        contact_id=quote.contact_id,
        recipient=quote.address.value,
        source=source,
        idempotency_key=key,
        request_hash=hashed,
        state=SendState.QUEUED,
        wamid=None,
        decision=decision_document(quote),
        error=None,
        response_status=None,
        response=None,
        created_at=quote.at,
        updated_at=quote.at,
    )


# --------------------------------------------------------------------------- documents


def decision_document(quote: Quote) -> dict[str, Any]:
    """The gate's decision as JSON-ready data (stored with the send, and answered)."""
    decision, window = quote.decision, quote.state.window
    template = decision.template
    return {
        "allowed": decision.allowed,
        "reason": str(decision.reason),
        "detail": decision.detail or None,
        "used": decision.used,
        "template": None
        if template is None
        else {"name": template.name, "language": template.language, "category": template.category},
        "category": decision.category,
        "expected_billing": billing_document(decision.expected_billing, quote.cost),
        "window": {
            "open": window.is_open(quote.at),
            "last_inbound_at": iso(window.last_inbound_at),
            "expires_at": iso(window.ends_at),
        },
        "at": iso(quote.at),
    }


def billing_document(billing: Billing | None, cost: Cost | None) -> dict[str, Any] | None:
    if billing is None:
        return None
    price = cost.price if cost is not None else None
    return {
        "model": billing.model,
        "category": billing.category,
        "type": billing.type,
        "billable": billing.billable,
        "era": billing.era,
        "market": cost.market if cost is not None else None,
        "price": None if price is None else _decimal_text(price),
        "currency": cost.currency if cost is not None else None,
    }


def approved_templates(quote: Quote) -> list[dict[str, Any]]:
    """The line's templates that may be sent, for a caller refused free-form."""
    return [
        {
            "id": t.template_id,
            "name": t.name,
            "language": t.language,
            "category": t.category,
            "body": t.body,
            "param_count": t.param_count,
            "param_names": list(t.param_names),
        }
        for t in quote.decision.approved_templates
    ]


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as every time wawindow answers."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")
