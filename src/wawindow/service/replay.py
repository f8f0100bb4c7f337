"""Replay: fold a set of facts in memory and show every thread as it stands at an instant.

No database, no network: the audit tool for "what did WhatsApp charge and why".
Facts are grouped into contacts by the identifiers they name together (a
payload with both ``wa_id`` and ``user_id`` joins them), then into threads per
(business line, contact), folded, and viewed at ``at``. Facts after ``at`` are
not known at ``at`` and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from wawindow.domain.facts import (
    BsuidChanged,
    Fact,
    InboundMessage,
    ManualClose,
    OutboundMessage,
    StatusUpdate,
    TemplateChange,
    ThreadFact,
    UserCall,
)
from wawindow.domain.identity import Identifier, Identity, link, primary_identifier
from wawindow.domain.policy import DEFAULT_POLICY, Policy
from wawindow.domain.settlement import beyond_free_tier
from wawindow.domain.thread_view import ThreadView, tier_candidates, view_thread
from wawindow.domain.timeline import ThreadLog

ContactKey = frozenset[Identifier]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    at: datetime
    threads: tuple[ThreadView, ...]


def replay(facts: Iterable[Fact], at: datetime, policy: Policy = DEFAULT_POLICY) -> ReplayResult:
    known = [f for f in facts if f.at is not None and f.at <= at]
    contacts = _contacts(known)
    threads = _threads(known, contacts)
    logs: dict[tuple[str, ContactKey], ThreadLog] = {}
    for (line, contact), thread_facts in threads.items():
        log = ThreadLog(line, policy)
        log.extend(thread_facts)
        logs[(line, contact)] = log
    past_allowance = beyond_free_tier(
        (c for log in logs.values() for c in tier_candidates(log)), policy
    )
    names = _names(known, contacts)
    views = [
        view_thread(log, Identity(contact, names.get(contact)), at, past_allowance)
        for (line, contact), log in logs.items()
    ]
    views.sort(key=_thread_order)
    return ReplayResult(at, tuple(views))


def _thread_order(view: ThreadView) -> tuple[str, str, str]:
    first = primary_identifier(view.contact.identifiers)
    return (view.line, first.kind if first else "", first.value if first else "")


def _identity_of(fact: Fact) -> Identity | None:
    match fact:
        case TemplateChange():
            return None
        case BsuidChanged():
            both = Identity.of(bsuid=fact.previous_bsuid).union(Identity.of(bsuid=fact.new_bsuid))
            return fact.user.union(both)
        case _:
            return fact.user


class _Contacts:
    """Which contact each identifier and each message id belongs to."""

    def __init__(self, groups: list[ContactKey], by_message: dict[str, ContactKey]) -> None:
        self.by_identifier = {ident: group for group in groups for ident in group}
        self.by_message = by_message

    def of(self, identity: Identity) -> ContactKey | None:
        for ident in identity.identifiers:
            return self.by_identifier[ident]
        return None


def _contacts(facts: list[Fact]) -> _Contacts:
    identities = [i for f in facts if (i := _identity_of(f)) is not None and i]
    groups = link(i.identifiers for i in identities)
    contacts = _Contacts(groups, {})
    for fact in facts:
        identity = _identity_of(fact)
        if isinstance(fact, InboundMessage | OutboundMessage | StatusUpdate) and identity:
            contacts.by_message.setdefault(
                fact.message_id, contacts.by_identifier[min(identity.identifiers)]
            )
    return contacts


def _threads(
    facts: list[Fact], contacts: _Contacts
) -> dict[tuple[str, ContactKey], list[ThreadFact]]:
    threads: dict[tuple[str, ContactKey], list[ThreadFact]] = {}
    for fact in facts:
        if not isinstance(
            fact, InboundMessage | UserCall | OutboundMessage | StatusUpdate | ManualClose
        ):
            continue
        contact = contacts.of(fact.user)
        if contact is None and isinstance(fact, StatusUpdate):
            # A failed status may name nobody: it belongs with the message it is about.
            contact = contacts.by_message.get(fact.message_id)
        threads.setdefault((fact.line, contact or frozenset()), []).append(fact)
    return threads


def _names(facts: list[Fact], contacts: _Contacts) -> dict[ContactKey, str]:
    """Each contact's most recent profile name."""
    latest: dict[ContactKey, tuple[datetime, str]] = {}
    for fact in facts:
        identity = _identity_of(fact)
        if identity is None or not identity.name or fact.at is None:
            continue
        contact = contacts.of(identity)
        if contact is not None and (contact not in latest or latest[contact][0] <= fact.at):
            latest[contact] = (fact.at, identity.name)
    return {contact: name for contact, (_, name) in latest.items()}
