"""What the use cases need from storage, as Protocols (the adapters implement them).

One ``IngestStore`` is one transaction: the use case calls ``commit()`` once at
the end, and an exception means nothing of it was stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from wawindow.domain.conversations import Conversation
from wawindow.domain.deadlines import DuePlan
from wawindow.domain.drift import Drift
from wawindow.domain.events import DomainEvent
from wawindow.domain.facts import Fact, ThreadFact
from wawindow.domain.identity import Identifier
from wawindow.domain.thread_view import MessageView
from wawindow.service.templates_registry import TemplateRows
from wawindow.service.timed_events import DueEventStore, DueRow


@dataclass(frozen=True, slots=True)
class LineInfo:
    phone_number_id: str
    tenant_id: str
    app_secret: str
    verify_token: str
    timezone: str = "UTC"
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadRef:
    id: str
    tenant_id: str
    line: str
    contact_id: str
    version: int


@dataclass(frozen=True, slots=True)
class ThreadChanges:
    """What one fold changed, for the read models."""

    thread: ThreadRef
    version: int
    last_inbound_at: datetime | None
    window_ends_at: datetime | None
    state: object  # JSON-ready summary of the thread state
    conversations: Sequence[Conversation]
    aliases: dict[str, str]
    messages: Sequence[MessageView]
    drift: Sequence[Drift]
    events: Sequence[DomainEvent]
    full: bool = False  # every conversation and message was folded again (e.g. a merge)


class IngestStore(DueEventStore, Protocol):
    def add_inbox(self, provider: str, body: bytes, received_at: datetime) -> int | None:
        """Store a raw body; ``None`` if this exact body was stored before."""

    def set_inbox_counts(self, inbox_id: int, facts: int, dropped: int) -> None: ...

    def line(self, phone_number_id: str) -> LineInfo | None: ...

    def lines_of_account(self, account_id: str) -> list[LineInfo]: ...

    def learn_account(self, phone_number_id: str, account_id: str) -> None: ...

    def contacts_of(
        self, tenant_id: str, identifiers: Iterable[Identifier]
    ) -> dict[Identifier, str]:
        """The contact each known identifier belongs to."""

    def contact_ages(self, tenant_id: str, contact_ids: Iterable[str]) -> dict[str, int]:
        """A rank per contact, oldest first (for picking the survivor of a merge)."""

    def lock_tenant(self, tenant_id: str) -> None:
        """Serialise contact resolution of one tenant for the rest of the transaction."""

    def new_contact(self, tenant_id: str, name: str | None, at: datetime) -> str: ...

    def observe_name(self, contact_id: str, name: str, at: datetime) -> None: ...

    def attach_identifiers(
        self, tenant_id: str, contact_id: str, identifiers: Iterable[Identifier], at: datetime
    ) -> None: ...

    def merge_contacts(self, tenant_id: str, survivor: str, absorbed: Sequence[str]) -> list[str]:
        """Move identifiers, threads' facts and messages to the survivor; returns the ids
        of the survivor's threads whose facts changed (to be folded again)."""

    def thread_for(self, tenant_id: str, line: str, contact_id: str, at: datetime) -> ThreadRef:
        """Get or create the thread, locked for this transaction."""

    def thread_by_id(self, thread_id: str) -> ThreadRef: ...

    def thread_of_message(self, tenant_id: str, message_id: str) -> ThreadRef | None: ...

    def add_fact(
        self, tenant_id: str, fact: Fact, thread_id: str | None, inbox_id: int | None, at: datetime
    ) -> bool:
        """Store a fact once; ``False`` if a fact with its natural key exists."""

    def thread_facts(self, thread_id: str) -> list[ThreadFact]: ...

    def conversation_ids(self, thread_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """As stored: message id -> conversation id, and absorbed id -> surviving id."""

    def tenant_settings(self, tenant_id: str) -> Mapping[str, Any]:
        """The tenant's stored settings (``{}`` when it changed none)."""

    def plan_due(self, thread: ThreadRef, plan: DuePlan) -> None:
        """Change the thread's indexed due times as ``plan`` says."""

    def take_due_of_thread(self, thread_id: str, until: datetime) -> list[DueRow]:
        """Take the thread's due times at or before ``until`` out of the index."""

    def save_thread(self, changes: ThreadChanges, now: datetime) -> None:
        """The read models and the events of the fold (due times: ``plan_due``)."""

    def commit(self) -> None: ...

    def template_rows(self) -> TemplateRows:
        """The template registry's rows, in this transaction."""


# --------------------------------------------------------------------------- sending to WhatsApp


@dataclass(frozen=True, slots=True)
class GraphLine:
    """Where and as whom to call the Graph API for one business line."""

    phone_number_id: str
    access_token: str
    base_url: str  # e.g. https://graph.facebook.com (no version)


@dataclass(frozen=True, slots=True)
class GraphReply:
    """WhatsApp's answer, exactly: the HTTP status and the JSON body.

    ``attempts`` counts the requests made for it (retries included).
    """

    status: int
    body: dict[str, object]
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class SendOutcomeUnknown(Exception):
    """The request may have reached WhatsApp, and no answer came: it is not sent again."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class WhatsAppUnreachable(Exception):
    """Every attempt failed before the request reached WhatsApp: surely not sent."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class WhatsAppClient(Protocol):
    """The Cloud API's messages endpoint: ``POST {base}/{version}/{phone_number_id}/messages``.

    ``send`` retries only what surely never reached WhatsApp, or what WhatsApp
    refused to take for now (5xx, throughput 130429, pair rate limit 131056);
    raises ``SendOutcomeUnknown`` when a request went out and no answer came, and
    ``WhatsAppUnreachable`` when no attempt got through.
    ``recipient`` (the wa_id or BSUID) keys the spacing of sends to one user.
    ``forward`` posts a request that is not a send (e.g. mark as read) once.
    """

    def send(
        self, line: GraphLine, version: str, body: dict[str, object], recipient: str
    ) -> GraphReply: ...

    def forward(self, line: GraphLine, version: str, body: dict[str, object]) -> GraphReply: ...

    def close(self) -> None: ...
