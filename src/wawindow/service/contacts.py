"""Contacts and where a business line stands with one of them (the session status).

Contacts (DESIGN 1.1): a tenant stores its own reference for a person next to a
phone number, BSUID, username or provider id *before* any message (Channel360's
correlation pattern). ``upsert_contact`` links every identifier given to one
contact, creating it when none is known. Identifiers that already belong to two
different contacts are a conflict, never merged silently: merges come from
WhatsApp's own payloads naming two identifiers together (``service.ingest``).
Because the identifiers are the same rows ingest resolves users by, a webhook
that later names the stored phone number lands on that very contact.

``external_ref`` is stored twice: on the contact (``contacts.external_ref``,
what listings show as ``customer_id``) and as an identifier of kind
``external_ref``, which makes it unique per tenant and findable like the others.
Setting a new one replaces the contact's previous reference.

Session status (CubeConnect's ``session-status``): the service window, the free
entry point window, the latest conversation and what may be sent, all computed
for ``now`` from the thread's stored read model, never stale.

Phone numbers arrive here as WhatsApp ids (E.164 digits without ``+``): turning
any written form into that is the caller's job (``adapters.markets``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from wawindow.domain.conversations import Conversation
from wawindow.domain.identity import Identifier, IdentifierKind
from wawindow.domain.policy import DEFAULT_POLICY, Policy
from wawindow.domain.templates import is_sendable_status
from wawindow.domain.thread_view import ConversationView, conversation_view

# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class StoredThread:
    """A contact's thread with one business line, as the read model has it."""

    line: str
    last_inbound_at: datetime | None
    window_ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredContact:
    id: str
    name: str | None
    external_ref: str | None
    created_at: datetime
    identifiers: tuple[Identifier, ...]
    threads: tuple[StoredThread, ...]


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    line: str
    last_inbound_at: datetime | None
    window_expires_at: datetime | None
    window_open: bool


@dataclass(frozen=True, slots=True)
class ContactDetails:
    id: str
    name: str | None
    external_ref: str | None
    created_at: datetime
    identifiers: tuple[Identifier, ...]
    threads: tuple[ThreadSummary, ...]

    def first(self, kind: str) -> str | None:
        return next((i.value for i in self.identifiers if i.kind == kind), None)


@dataclass(frozen=True, slots=True)
class ContactChange:
    """What ``POST /v1/contacts`` asks for: identifiers to link, details to set."""

    identifiers: frozenset[Identifier]
    name: str | None = None
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    contact: ContactDetails
    created: bool


class ContactConflict(Exception):
    """The identifiers given belong to several contacts (contact id -> its identifiers)."""

    def __init__(self, owners: dict[str, tuple[Identifier, ...]]) -> None:
        super().__init__("identifiers of different contacts: " + ", ".join(sorted(owners)))
        self.owners = owners


class NotFound(LookupError):
    """Nothing of this tenant answers to what was asked; ``what`` names the input."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what
        self.message = message


# --------------------------------------------------------------------------- ports


class ContactLookup(Protocol):
    def contacts_with(self, tenant_id: str, identifier: Identifier) -> list[str]:
        """Ids of the (surviving) contacts this identifier names, oldest first."""

    def resolve(self, tenant_id: str, contact_id: str) -> str | None:
        """The surviving contact of an id (following merges), if the tenant has it."""


class ContactReader(ContactLookup, Protocol):
    def contacts_of(
        self, tenant_id: str, identifiers: Iterable[Identifier]
    ) -> dict[Identifier, str]:
        """The contact each known identifier belongs to."""

    def contact(self, tenant_id: str, contact_id: str) -> StoredContact | None: ...


class ContactStore(ContactReader, Protocol):
    """One transaction; ``commit()`` once at the end."""

    def lock_tenant(self, tenant_id: str) -> None: ...

    def new_contact(self, tenant_id: str, name: str | None, at: datetime) -> str: ...

    def attach_identifiers(
        self, tenant_id: str, contact_id: str, identifiers: Iterable[Identifier], at: datetime
    ) -> None: ...

    def observe_name(self, contact_id: str, name: str, at: datetime) -> None:
        """Set the name unless a later fact named the contact (the latest name wins)."""

    def set_external_ref(
        self, tenant_id: str, contact_id: str, external_ref: str, at: datetime
    ) -> None:
        """Set the column and make it the contact's only ``external_ref`` identifier."""

    def commit(self) -> None: ...


# --------------------------------------------------------------------------- contacts


def upsert_contact(
    store: ContactStore, tenant_id: str, change: ContactChange, now: datetime
) -> UpsertResult:
    """Link ``change.identifiers`` to one contact (a new one if none knows them)."""
    identifiers = change.identifiers
    if change.external_ref is not None:
        identifiers |= {Identifier(IdentifierKind.EXTERNAL_REF, change.external_ref)}
    if not identifiers:
        raise ValueError("a contact upsert needs at least one identifier")
    store.lock_tenant(tenant_id)  # as ingest does: no contact created twice at once
    known = store.contacts_of(tenant_id, identifiers)
    owner = _single_owner(known)
    contact_id = owner or store.new_contact(tenant_id, change.name, now)
    if change.external_ref is not None:
        store.set_external_ref(tenant_id, contact_id, change.external_ref, now)
    new = [i for i in sorted(identifiers) if i not in known]
    store.attach_identifiers(tenant_id, contact_id, new, now)
    if change.name is not None and owner is not None:
        store.observe_name(contact_id, change.name, now)
    stored = store.contact(tenant_id, contact_id)
    store.commit()
    if stored is None:  # pragma: no cover - written in this very transaction
        raise LookupError(contact_id)
    return UpsertResult(contact_details(stored, now), created=owner is None)


def _single_owner(known: dict[Identifier, str]) -> str | None:
    """The one contact the known identifiers belong to; ``ContactConflict`` if several."""
    owners = sorted(set(known.values()))
    if len(owners) > 1:
        raise ContactConflict(
            {owner: tuple(sorted(i for i, o in known.items() if o == owner)) for owner in owners}
        )
    return owners[0] if owners else None


def get_contact(
    store: ContactReader, tenant_id: str, contact_id: str, now: datetime
) -> ContactDetails:
    """A contact by id; an id absorbed by a merge gives the surviving contact."""
    survivor = store.resolve(tenant_id, contact_id)
    stored = None if survivor is None else store.contact(tenant_id, survivor)
    if stored is None:
        raise NotFound("contact_id", "this tenant has no contact with this id")
    return contact_details(stored, now)


def find_contacts(
    store: ContactReader, tenant_id: str, identifier: Identifier, now: datetime
) -> list[ContactDetails]:
    found = (store.contact(tenant_id, c) for c in store.contacts_with(tenant_id, identifier))
    return [contact_details(stored, now) for stored in found if stored is not None]


def contact_details(stored: StoredContact, now: datetime) -> ContactDetails:
    external_ref = stored.external_ref or next(
        (i.value for i in stored.identifiers if i.kind == IdentifierKind.EXTERNAL_REF), None
    )
    threads = tuple(
        ThreadSummary(
            line=thread.line,
            last_inbound_at=thread.last_inbound_at,
            window_expires_at=thread.window_ends_at,
            window_open=window_open(thread.last_inbound_at, thread.window_ends_at, now),
        )
        for thread in sorted(stored.threads, key=lambda th: th.line)
    )
    return ContactDetails(
        id=stored.id,
        name=stored.name,
        external_ref=external_ref,
        created_at=stored.created_at,
        identifiers=tuple(sorted(stored.identifiers)),
        threads=threads,
    )


def window_open(last_inbound_at: datetime | None, ends_at: datetime | None, at: datetime) -> bool:
    """The service window's rule (``ServiceWindow.is_open``) on the stored times."""
    return last_inbound_at is not None and ends_at is not None and last_inbound_at <= at < ends_at


# --------------------------------------------------------------------------- session status


@dataclass(frozen=True, slots=True)
class ThreadSnapshot:
    """A thread's stored read model: window, free entry point, latest conversation."""

    last_inbound_at: datetime | None
    window_ends_at: datetime | None
    fep_opened_at: datetime | None
    fep_expires_at: datetime | None
    conversation: Conversation | None


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    template_id: str | None
    name: str
    language: str
    category: str | None
    status: str
    body: str | None
    param_count: int


@dataclass(frozen=True, slots=True)
class EntryPointStatus:
    active: bool
    opened_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionStatus:
    line: str
    contact_id: str
    at: datetime
    window_active: bool
    last_inbound_at: datetime | None
    expires_at: datetime | None
    remaining_seconds: int
    free_entry_point: EntryPointStatus | None
    conversation: ConversationView | None
    can_send_free_form: bool
    templates: tuple[StoredTemplate, ...]

    @property
    def remaining_minutes(self) -> int:
        """Whole minutes left, rounded down (never promises time that is not there)."""
        return self.remaining_seconds // 60


class SessionStore(ContactLookup, Protocol):
    def has_line(self, tenant_id: str, line: str) -> bool: ...

    def thread_snapshot(self, tenant_id: str, line: str, contact_id: str) -> ThreadSnapshot | None:
        """``None`` when the contact has no thread with this line yet."""

    def templates(self, tenant_id: str, line: str) -> list[StoredTemplate]: ...


def session_status(
    store: SessionStore,
    tenant_id: str,
    line: str,
    contact: Identifier | str,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> SessionStatus:
    """Where ``line`` stands with the contact at ``now``; ``contact`` is an identifier
    or a contact id. Raises ``NotFound`` for a line or contact the tenant doesn't have."""
    # A thread on the line proves that the line is the tenant's (lines are never removed
    # nor moved), so the line is looked up only when there is none: the usual answer
    # costs one read less. An unknown line is still the error named first.
    try:
        contact_id = _contact_id(store, tenant_id, contact)
    except NotFound:
        _require_line(store, tenant_id, line)
        raise
    snapshot = store.thread_snapshot(tenant_id, line, contact_id)
    if snapshot is None:
        _require_line(store, tenant_id, line)
        snapshot = ThreadSnapshot(None, None, None, None, None)
    last, ends = snapshot.last_inbound_at, snapshot.window_ends_at
    active = window_open(last, ends, now)
    free_form = window_open(last, ends, now + policy.send_margin)
    templates = () if free_form else sendable_templates(store.templates(tenant_id, line))
    conversation = snapshot.conversation
    return SessionStatus(
        line=line,
        contact_id=contact_id,
        at=now,
        window_active=active,
        last_inbound_at=last,
        expires_at=ends,
        remaining_seconds=_seconds(ends - now) if active and ends is not None else 0,
        free_entry_point=_entry_point(snapshot, now),
        conversation=None if conversation is None else conversation_view(conversation, now, policy),
        can_send_free_form=free_form,
        templates=templates,
    )


def sendable_templates(templates: Sequence[StoredTemplate]) -> tuple[StoredTemplate, ...]:
    """The templates Meta would accept now, by name then language."""
    usable = (t for t in templates if is_sendable_status(t.status))
    return tuple(sorted(usable, key=lambda t: (t.name, t.language, t.template_id or "")))


def _require_line(store: SessionStore, tenant_id: str, line: str) -> None:
    if not store.has_line(tenant_id, line):
        raise NotFound("phone_number_id", "this tenant has no business line with this id")


def _contact_id(store: ContactLookup, tenant_id: str, contact: Identifier | str) -> str:
    if isinstance(contact, str):
        found = store.resolve(tenant_id, contact)
    else:
        owners = store.contacts_with(tenant_id, contact)
        found = owners[0] if owners else None
    if found is None:
        raise NotFound("contact", "this tenant has no contact with this identifier")
    return found


def _entry_point(snapshot: ThreadSnapshot, now: datetime) -> EntryPointStatus | None:
    opened, expires = snapshot.fep_opened_at, snapshot.fep_expires_at
    if opened is None:
        return None
    return EntryPointStatus(expires is not None and opened <= now < expires, opened, expires)


def _seconds(delta: timedelta) -> int:
    return max(int(delta.total_seconds()), 0)
