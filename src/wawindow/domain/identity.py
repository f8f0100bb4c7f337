"""Who a WhatsApp user is: identifiers, linking them into contacts, merging contacts.

A user may be known by a phone number (``wa_id``), a business-scoped user id
(``bsuid``, e.g. ``US.13491208655302741918``), a parent BSUID, a username,
provider ids, or the tenant's own ``external_ref``. Since April 2026 the phone
number may be missing altogether, so no identifier is special: whenever one
payload names two of them together they belong to one contact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class IdentifierKind(StrEnum):
    WA_ID = "wa_id"
    BSUID = "bsuid"
    PARENT_BSUID = "parent_bsuid"
    USERNAME = "username"
    PROVIDER = "provider"  # value is "<provider>:<id>", e.g. "channel360:5f1c..."
    EXTERNAL_REF = "external_ref"


# Order used to pick the identifier that names a contact in listings.
_PRIMARY_ORDER = (
    IdentifierKind.WA_ID,
    IdentifierKind.BSUID,
    IdentifierKind.USERNAME,
    IdentifierKind.PARENT_BSUID,
    IdentifierKind.PROVIDER,
    IdentifierKind.EXTERNAL_REF,
)


@dataclass(frozen=True, slots=True, order=True)
class Identifier:
    kind: str
    value: str

    @staticmethod
    def wa_id(value: str) -> Identifier:
        return Identifier(IdentifierKind.WA_ID, normalise_wa_id(value))

    @staticmethod
    def bsuid(value: str) -> Identifier:
        return Identifier(IdentifierKind.BSUID, value)


def normalise_wa_id(value: str) -> str:
    """WhatsApp ids are digits only: ``+1 650-555-1234`` and ``16505551234`` are one user."""
    if value.isdigit():
        return value  # the common case, on the hot path of every webhook
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits or value


@dataclass(frozen=True, slots=True)
class Identity:
    """What one payload says about a user: the identifiers it names together, and a name."""

    identifiers: frozenset[Identifier] = frozenset()
    name: str | None = None

    @staticmethod
    def of(
        wa_id: str | None = None,
        bsuid: str | None = None,
        parent_bsuid: str | None = None,
        username: str | None = None,
        name: str | None = None,
    ) -> Identity:
        ids: set[Identifier] = set()
        if wa_id:
            ids.add(Identifier.wa_id(wa_id))
        if bsuid:
            ids.add(Identifier.bsuid(bsuid))
        if parent_bsuid:
            ids.add(Identifier(IdentifierKind.PARENT_BSUID, parent_bsuid))
        if username:
            ids.add(Identifier(IdentifierKind.USERNAME, username))
        return Identity(frozenset(ids), name or None)

    def first(self, kind: str) -> str | None:
        values = sorted(i.value for i in self.identifiers if i.kind == kind)
        return values[0] if values else None

    @property
    def wa_id(self) -> str | None:
        return self.first(IdentifierKind.WA_ID)

    @property
    def bsuid(self) -> str | None:
        return self.first(IdentifierKind.BSUID)

    @property
    def username(self) -> str | None:
        return self.first(IdentifierKind.USERNAME)

    def union(self, other: Identity) -> Identity:
        return Identity(self.identifiers | other.identifiers, other.name or self.name)

    def __bool__(self) -> bool:
        return bool(self.identifiers)


def primary_identifier(identifiers: Iterable[Identifier]) -> Identifier | None:
    """The identifier that names a contact in listings: phone, then BSUID, then the rest."""
    ordered = sorted(identifiers)
    for kind in _PRIMARY_ORDER:
        for ident in ordered:
            if ident.kind == kind:
                return ident
    return ordered[0] if ordered else None


def link(groups: Iterable[frozenset[Identifier]]) -> list[frozenset[Identifier]]:
    """Join identifier groups that share an identifier (union-find); one set per contact."""
    parent: dict[Identifier, Identifier] = {}

    def find(x: Identifier) -> Identifier:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for group in groups:
        members = sorted(group)
        for ident in members:
            parent.setdefault(ident, ident)
        for other in members[1:]:
            a, b = find(members[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    contacts: dict[Identifier, set[Identifier]] = {}
    for ident in parent:
        contacts.setdefault(find(ident), set()).add(ident)
    return sorted((frozenset(c) for c in contacts.values()), key=lambda c: min(c))


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What observing an identity means for the contacts a tenant already has.

    ``survivor`` is ``None`` when no contact knows any of the identifiers (a new
    contact); ``absorbed`` are contacts to merge into the survivor; ``new_identifiers``
    are to be added to the survivor.
    """

    survivor: str | None
    absorbed: tuple[str, ...]
    new_identifiers: frozenset[Identifier]


def plan_merge(
    known: Mapping[Identifier, str],
    observed: frozenset[Identifier],
    created_order: Mapping[str, int] | None = None,
) -> MergePlan:
    """Decide which contact an observed identity belongs to, merging where it joins several.

    ``known`` maps identifiers to contact ids; the oldest contact (smallest value in
    ``created_order``, else the smallest id) survives so that ids handed out first stay.
    """
    owners = {known[i] for i in observed if i in known}
    new = frozenset(i for i in observed if i not in known)
    if not owners:
        return MergePlan(None, (), new)
    order = created_order or {}
    ranked = sorted(owners, key=lambda c: (order.get(c, 0), c))
    return MergePlan(ranked[0], tuple(ranked[1:]), new)
