"""Facts: everything wawindow knows, each recorded once and never changed.

A fact carries the provider's timestamp (an aware UTC ``datetime`` with second
precision) and a natural key (``natural_key``) that makes storing it idempotent.
Facts are the only input of the fold; the order in which they arrive never
matters (see ``timeline.canonical_order``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from wawindow.domain.identity import Identity


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class OutboundSource(StrEnum):
    """How wawindow learned of a business-sent message."""

    API = "api"  # our send API
    PROXY = "proxy"  # the Graph proxy
    ECHO = "echo"  # smb_message_echoes (sent from the WhatsApp Business app)
    RECORD = "record"  # an outbound record in an import/replay file


@dataclass(frozen=True, slots=True)
class Referral:
    """Click-to-WhatsApp ad or Facebook Page call-to-action behind an inbound message."""

    source_type: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    ctwa_clid: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message the user sent (any user-sent type; ``system`` messages are not these)."""

    line: str
    message_id: str
    at: datetime
    user: Identity
    type: str
    referral: Referral | None = None


@dataclass(frozen=True, slots=True)
class UserCall:
    """A call the user started; it opens the service window like a message."""

    line: str
    call_id: str
    at: datetime
    user: Identity
    event: str = "connect"


@dataclass(frozen=True, slots=True)
class TemplateRef:
    name: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A business-sent message: a template (with its category) or free-form."""

    line: str
    message_id: str
    at: datetime
    user: Identity
    type: str
    template: TemplateRef | None = None
    category: str | None = None
    source: OutboundSource = OutboundSource.API

    @property
    def is_template(self) -> bool:
        return self.type == "template" or self.template is not None


@dataclass(frozen=True, slots=True)
class ProviderError:
    code: int | None
    title: str | None = None
    message: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderConversation:
    """The ``conversation`` object of a status: Meta's billing conversation."""

    id: str | None = None
    expires_at: datetime | None = None
    origin_type: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderPricing:
    """The ``pricing`` object of a status (or a reseller's pricing category)."""

    billable: bool | None = None
    model: str | None = None
    category: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A status of an outbound message: sent, delivered, read, played, failed (or unknown)."""

    line: str
    message_id: str
    status: str
    at: datetime
    user: Identity
    errors: tuple[ProviderError, ...] = ()
    conversation: ProviderConversation | None = None
    pricing: ProviderPricing | None = None


class CloseReason(StrEnum):
    MANUAL_CLOSE = "manual_close"
    AGENT_CLOSE = "agent_close"


@dataclass(frozen=True, slots=True)
class ManualClose:
    """A conversation closed through our API: ends the conversation open at ``at``."""

    line: str
    request_id: str
    at: datetime
    user: Identity
    reason: CloseReason = CloseReason.MANUAL_CLOSE


@dataclass(frozen=True, slots=True)
class IdentityObserved:
    """A payload named several identifiers of one user together (e.g. wa_id and user_id)."""

    line: str
    at: datetime
    user: Identity


@dataclass(frozen=True, slots=True)
class BsuidChanged:
    """The user's business-scoped user id changed (``user_id_update``, ``user_changed_user_id``)."""

    line: str
    at: datetime
    previous_bsuid: str
    new_bsuid: str
    user: Identity = field(default_factory=Identity)


@dataclass(frozen=True, slots=True)
class TemplateChange:
    """A template's status, category, quality or components changed.

    Templates belong to the WhatsApp Business Account (``account``), not to one line.
    ``at`` is ``None`` when the webhook carried no time; the service then uses the
    time it received the webhook.
    """

    account: str
    template_id: str
    event: str
    at: datetime | None
    name: str | None = None
    language: str | None = None
    status: str | None = None
    category: str | None = None
    previous_category: str | None = None
    quality: str | None = None
    reason: str | None = None
    body: str | None = None


ThreadFact = InboundMessage | UserCall | OutboundMessage | StatusUpdate | ManualClose
"""Facts that belong to one (line, contact) thread and move its state."""

Fact = ThreadFact | IdentityObserved | BsuidChanged | TemplateChange


def natural_key(fact: Fact) -> tuple[str, ...]:
    """The key under which a fact is stored once: a second copy is the same fact."""
    match fact:
        case InboundMessage() | OutboundMessage():
            return ("message", fact.message_id)
        case UserCall():
            return ("call", fact.call_id)  # one call: its earliest event (the connect) stands
        case StatusUpdate():
            return ("status", fact.message_id, fact.status)
        case ManualClose():
            return ("close", fact.request_id)
        case IdentityObserved():
            ids = ",".join(f"{i.kind}:{i.value}" for i in sorted(fact.user.identifiers))
            return ("identity", fact.line, ids, _iso(fact.at))
        case BsuidChanged():
            return ("bsuid_change", fact.previous_bsuid, fact.new_bsuid)
        case TemplateChange():
            return ("template", fact.template_id, fact.event, _iso(fact.at))


def _iso(at: datetime | None) -> str:
    return "" if at is None else at.isoformat()
