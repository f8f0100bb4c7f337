"""Meta (WhatsApp Cloud API) webhook bodies → domain facts. Pure parsing, no I/O.

``parse_webhook(body)`` reads one ``POST /webhooks/meta`` body and returns the facts
it states, every business line (``phone_number_id``) and account (entry id) it names,
and a ``Skipped`` note for everything that gave no fact, with the reason. The caller
keeps the raw body, so nothing here has to preserve fields it does not use.

Decoding has two paths. The happy path decodes the whole body straight into the
typed ``msgspec`` structs below (unknown fields are skipped by msgspec, ``strict=False``
lets ``"true"``/``"131047"`` stand for ``true``/``131047``). If that fails because
one field somewhere has an unexpected type, the lenient path decodes to plain
Python objects and rebuilds the structs piece by piece, dropping only the field or
list item that does not fit (each drop is reported in ``skipped``). Only invalid
JSON or a top level that is not an object raises ``PayloadError``.

The wire structs cover what the facts need:

- envelope ``object``, ``entry[]`` (``id``, ``time``, ``changes[]`` with ``field``, ``value``);
- ``value.metadata`` (``display_phone_number``, ``phone_number_id``);
- ``value.contacts[]`` (``profile.name``, ``profile.username`` or ``username``, ``wa_id``,
  ``user_id``, ``parent_user_id``);
- ``value.messages[]`` (``from``, ``from_user_id``, ``from_parent_user_id``, ``id``,
  ``timestamp``, ``type``, ``referral``, ``system``); message content, ``context`` and
  ``identity`` are not decoded: no fact needs them;
- ``value.statuses[]`` (recipient ids, ``conversation``, ``pricing``, ``errors[]``);
- ``value.message_echoes[]`` and ``value.calls[]``;
- template webhooks (``message_template_*``, ``new_category``, quality scores);
- ``user_id_update`` (see ``UserIdUpdate``).
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec

from wawindow.domain.categories import normalise_category
from wawindow.domain.facts import (
    BsuidChanged,
    Fact,
    IdentityObserved,
    InboundMessage,
    OutboundMessage,
    OutboundSource,
    ProviderConversation,
    ProviderError,
    ProviderPricing,
    Referral,
    StatusUpdate,
    TemplateChange,
    TemplateRef,
    UserCall,
)
from wawindow.domain.identity import Identity

__all__ = [
    "Change",
    "Entry",
    "Envelope",
    "ParsedWebhook",
    "PayloadError",
    "Skipped",
    "Value",
    "decode_envelope",
    "parse_webhook",
]


class PayloadError(ValueError):
    """The body is not JSON, or its top level is not an object: nothing can be read from it."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something in the body that gave no fact: the change ``field``, where, and why."""

    field: str
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedWebhook:
    """What one webhook body says: facts, the lines and accounts it names, what gave nothing."""

    facts: tuple[Fact, ...]
    lines: tuple[str, ...]
    accounts: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()
    object: str | None = None  # "whatsapp_business_account" for a Cloud API body


# --------------------------------------------------------------------------- wire structs

# Ids and phone numbers are strings on the wire, but test tools and resellers send
# numbers too; both are accepted and turned into text by ``_text``.
IdLike = str | int | None
# Unix seconds: a string in Meta's payloads, a number in some (``entry.time``, calls).
Stamp = str | int | float | None


class _Wire(msgspec.Struct, kw_only=True):
    """Every field optional: Meta omits fields freely (e.g. ``from`` for hidden numbers)."""


class Profile(_Wire):
    name: str | None = None
    username: str | None = None


class Contact(_Wire):
    profile: Profile | None = None
    wa_id: IdLike = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None  # also accepted here; Meta documents profile.username


class Metadata(_Wire):
    display_phone_number: IdLike = None
    phone_number_id: IdLike = None


class ReferralWire(_Wire):
    source_url: str | None = None
    source_id: IdLike = None
    source_type: str | None = None
    ctwa_clid: str | None = None


class SystemWire(_Wire):
    """``messages[].system``; new ids may come as ``user_id`` or ``new_user_id``."""

    type: str | None = None
    body: str | None = None
    wa_id: IdLike = None
    new_wa_id: IdLike = None
    user_id: str | None = None
    new_user_id: str | None = None
    parent_user_id: str | None = None
    new_parent_user_id: str | None = None
    previous_user_id: str | None = None
    previous_parent_user_id: str | None = None


class Message(_Wire):
    from_: IdLike = msgspec.field(default=None, name="from")
    from_user_id: str | None = None
    from_parent_user_id: str | None = None
    id: str | None = None
    timestamp: Stamp = None
    type: str | None = None
    referral: ReferralWire | None = None
    system: SystemWire | None = None


class ErrorData(_Wire):
    details: str | None = None


class ErrorWire(_Wire):
    code: IdLike = None
    title: str | None = None
    message: str | None = None
    error_data: ErrorData | None = None


class Origin(_Wire):
    type: str | None = None


class ConversationWire(_Wire):
    id: IdLike = None
    expiration_timestamp: Stamp = None
    origin: Origin | None = None


class PricingWire(_Wire):
    billable: bool | None = None
    pricing_model: str | None = None
    category: str | None = None
    type: str | None = None


class Status(_Wire):
    id: str | None = None
    status: str | None = None
    timestamp: Stamp = None
    type: str | None = None  # absent for messages; "call", "payment" for other things
    recipient_type: str | None = None  # "group" for group messages
    recipient_id: IdLike = None
    recipient_user_id: str | None = None
    recipient_parent_user_id: str | None = None
    conversation: ConversationWire | None = None
    pricing: PricingWire | None = None
    errors: tuple[ErrorWire, ...] = ()


class TemplateLanguage(_Wire):
    code: str | None = None


class TemplateWire(_Wire):
    name: str | None = None
    language: str | TemplateLanguage | None = None


class Echo(_Wire):
    from_: IdLike = msgspec.field(default=None, name="from")
    to: IdLike = None
    to_user_id: str | None = None
    to_parent_user_id: str | None = None
    id: str | None = None
    timestamp: Stamp = None
    type: str | None = None
    template: TemplateWire | None = None


class Call(_Wire):
    id: str | None = None
    from_: IdLike = msgspec.field(default=None, name="from")
    from_user_id: str | None = None
    from_parent_user_id: str | None = None
    to: IdLike = None
    event: str | None = None
    timestamp: Stamp = None
    direction: str | None = None


class IdPair(_Wire):
    """``{"previous": ..., "current": ...}`` (``old``/``new`` accepted too)."""

    previous: str | None = None
    current: str | None = None
    old: str | None = None
    new: str | None = None


class UserIdUpdate(_Wire):
    """A BSUID change (``user_id_update``). Accepted shapes, as items of
    ``value.user_id_update[]`` or flat in ``value`` itself::

        {"wa_id": "1650...", "timestamp": "1750000000",
         "user_id": {"previous": "US.1", "current": "US.2"},        # or old/new
         "parent_user_id": {"previous": "US.ENT.1", "current": "US.ENT.2"}}

        {"wa_id": "1650...", "timestamp": "1750000000",
         "previous_user_id": "US.1", "user_id": "US.2"}             # or old_user_id, new_user_id

    ``wa_id`` and the parent ids are optional. Meta's changelog (Aug 2026) says BSUID
    changes now arrive as ``system`` messages instead; both are read.
    """

    wa_id: IdLike = None
    timestamp: Stamp = None
    user_id: str | IdPair | None = None
    parent_user_id: str | IdPair | None = None
    previous_user_id: str | None = None
    old_user_id: str | None = None
    new_user_id: str | None = None
    previous_parent_user_id: str | None = None
    new_parent_user_id: str | None = None


class Timed(_Wire):
    """An item read only for its time (``user_preferences[]``), to date the contacts."""

    timestamp: Stamp = None


class Value(UserIdUpdate):
    """``changes[].value``: one struct for every field (their keys do not clash).

    It extends ``UserIdUpdate`` so that an update sent flat in ``value`` is read too.
    """

    metadata: Metadata | None = None
    contacts: tuple[Contact, ...] = ()
    messages: tuple[Message, ...] = ()
    statuses: tuple[Status, ...] = ()
    message_echoes: tuple[Echo, ...] = ()
    calls: tuple[Call, ...] = ()
    errors: tuple[ErrorWire, ...] = ()
    user_preferences: tuple[Timed, ...] = ()
    user_id_update: tuple[UserIdUpdate, ...] = ()
    # template webhooks
    event: str | None = None
    message_template_id: IdLike = None
    message_template_name: str | None = None
    message_template_language: str | None = None
    message_template_category: str | None = None
    message_template_element: str | None = None  # the body text, in components updates
    reason: str | None = None
    new_category: str | None = None
    previous_category: str | None = None
    new_quality_score: str | None = None
    previous_quality_score: str | None = None


class Change(_Wire):
    field: str | None = None
    value: Value | None = None


class Entry(_Wire):
    id: IdLike = None
    time: Stamp = None
    changes: tuple[Change, ...] = ()


class Envelope(_Wire):
    object: str | None = None
    entry: tuple[Entry, ...] = ()


# --------------------------------------------------------------------------- decoding

_DECODER: Final = msgspec.json.Decoder(Envelope, strict=False)
_S = TypeVar("_S", bound=msgspec.Struct)
_DROP: Final = object()


def decode_envelope(body: bytes) -> tuple[Envelope, list[Skipped]]:
    """The typed envelope of a body, and what the lenient path had to drop to build it."""
    try:
        return _DECODER.decode(body), []
    except msgspec.ValidationError:
        pass  # valid JSON, unexpected shape somewhere: rebuild it piece by piece
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec reports a bad UTF-8 byte inside a string as a UnicodeDecodeError.
        raise PayloadError(f"invalid JSON: {exc}") from exc
    raw = msgspec.json.decode(body)
    if not isinstance(raw, dict):
        raise PayloadError(f"top level is a JSON {type(raw).__name__}, not an object")
    skipped: list[Skipped] = []
    envelope = _lenient(Envelope, raw, "", "", skipped, whole_first=False)
    return envelope or Envelope(), skipped


def _lenient(
    cls: type[_S],
    raw: object,
    path: str,
    field: str,
    skipped: list[Skipped],
    *,
    whole_first: bool = True,
) -> _S | None:
    """``cls`` from plain data, dropping (and reporting) only the parts that do not fit."""
    if not isinstance(raw, dict):
        skipped.append(Skipped(field, path, f"ignored: expected an object, got {_kind(raw)}"))
        return None
    if whole_first:
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError:
            pass
    if cls is Change and isinstance(raw.get("field"), str):
        field = raw["field"]
    kwargs: dict[str, Any] = {}
    for info in msgspec.structs.fields(cls):
        if info.encode_name in raw:
            where = f"{path}.{info.encode_name}" if path else info.encode_name
            value = _lenient_field(info.type, raw[info.encode_name], where, field, skipped)
            if value is not _DROP:
                kwargs[info.name] = value
    return cls(**kwargs)


def _lenient_field(tp: Any, raw: object, path: str, field: str, skipped: list[Skipped]) -> Any:
    """One field's value; a list of structs is rebuilt item by item, losing only bad items."""
    item_cls = _tuple_item_struct(tp)
    if item_cls is not None and isinstance(raw, list):
        items = (_lenient(item_cls, v, f"{path}[{i}]", field, skipped) for i, v in enumerate(raw))
        return tuple(item for item in items if item is not None)
    try:
        return msgspec.convert(raw, tp, strict=False)
    except msgspec.ValidationError as exc:
        struct_cls = None if item_cls is not None else _struct_in(tp)
        if struct_cls is not None and isinstance(raw, dict):
            return _lenient(struct_cls, raw, path, field, skipped, whole_first=False)
        skipped.append(Skipped(field, path, f"ignored: {exc}"))
        return _DROP


def _tuple_item_struct(tp: Any) -> type[msgspec.Struct] | None:
    if typing.get_origin(tp) is tuple:
        return _struct_in(typing.get_args(tp)[0])
    return None


def _struct_in(tp: Any) -> type[msgspec.Struct] | None:
    for arg in typing.get_args(tp) or (tp,):
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
    return None


def _kind(raw: object) -> str:
    return "null" if raw is None else type(raw).__name__


# --------------------------------------------------------------------------- small readers


def _text(value: IdLike) -> str | None:
    """Ids as text; numbers become their digits, empty strings count as absent."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return (value or None) if isinstance(value, str) else None


def _to_datetime(value: Stamp) -> datetime | None:
    """Unix seconds (string or number) → aware UTC datetime; ``None`` when unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = int(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _int(value: IdLike) -> int | None:
    if isinstance(value, int):
        return value
    text = (value or "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _upper(value: str | None) -> str | None:
    return (value.strip().upper() or None) if value else None


def _contact_identity(contact: Contact) -> Identity:
    profile = contact.profile or Profile()
    return Identity.of(
        wa_id=_text(contact.wa_id),
        bsuid=contact.user_id,
        parent_bsuid=contact.parent_user_id,
        username=profile.username or contact.username,
        name=profile.name,
    )


def _first_time(value: Value) -> datetime | None:
    """The time of the first dated item of a change: dates the contacts it lists."""
    lists: tuple[Iterable[Message | Status | Echo | Call | Timed | UserIdUpdate], ...] = (
        value.messages,
        value.statuses,
        value.message_echoes,
        value.calls,
        value.user_preferences,
        value.user_id_update,
    )
    for items in lists:
        for item in items:
            at = _to_datetime(item.timestamp)
            if at is not None:
                return at
    return _to_datetime(value.timestamp)


# --------------------------------------------------------------------------- collecting


class _Collector:
    """Accumulates one body's facts, skips, lines and accounts (lines/accounts deduplicated)."""

    __slots__ = ("accounts", "facts", "lines", "skipped")

    def __init__(self, skipped: list[Skipped]) -> None:
        self.facts: list[Fact] = []
        self.skipped = skipped
        self.lines: dict[str, None] = {}
        self.accounts: dict[str, None] = {}

    def result(self, object_: str | None) -> ParsedWebhook:
        return ParsedWebhook(
            facts=tuple(self.facts),
            lines=tuple(self.lines),
            accounts=tuple(self.accounts),
            skipped=tuple(self.skipped),
            object=object_,
        )


class _Change:
    """What every item of one change shares: line, contacts, time fallback, where it is."""

    __slots__ = ("by_bsuid", "by_wa_id", "contacts", "entry_time", "field", "line", "out", "path")

    def __init__(
        self, field: str, path: str, line: str, entry_time: datetime | None, out: _Collector
    ) -> None:
        self.field = field
        self.path = path
        self.line = line
        self.entry_time = entry_time
        self.out = out
        self.contacts: tuple[Identity, ...] = ()
        self.by_wa_id: dict[str, Identity] = {}
        self.by_bsuid: dict[str, Identity] = {}

    def set_contacts(self, contacts: tuple[Contact, ...]) -> None:
        """Index the contacts[] block once, so matching an item costs O(1) however big it is."""
        self.contacts = tuple(_contact_identity(c) for c in contacts)
        for contact, identity in zip(contacts, self.contacts, strict=True):
            wa_id = identity.wa_id
            if wa_id is not None:
                self.by_wa_id.setdefault(wa_id, identity)
            if contact.user_id:
                self.by_bsuid.setdefault(contact.user_id, identity)

    def add(self, fact: Fact) -> None:
        self.out.facts.append(fact)

    def skip(self, where: str, reason: str) -> None:
        path = f"{self.path}.{where}" if where else self.path
        self.out.skipped.append(Skipped(self.field, path, reason))

    def at(self, stamp: Stamp) -> datetime | None:
        """The item's own time, else the entry's (Meta always sends one; resellers may not)."""
        return _to_datetime(stamp) or self.entry_time

    def user(self, wa_id: IdLike, bsuid: str | None, parent: str | None) -> Identity:
        """The ids an item names, merged with the contacts[] entry that names the same user."""
        own = Identity.of(wa_id=_text(wa_id), bsuid=bsuid, parent_bsuid=parent)
        contact = self._contact_for(own.wa_id if own else None, bsuid)
        return own if contact is None else own.union(contact)

    def _contact_for(self, wa_id: str | None, bsuid: str | None) -> Identity | None:
        if wa_id is None and bsuid is None:
            # Nothing to match on: a lone contact can only be this item's user.
            return self.contacts[0] if len(self.contacts) == 1 else None
        found = self.by_wa_id.get(wa_id) if wa_id else None
        return found or (self.by_bsuid.get(bsuid) if bsuid else None)


# --------------------------------------------------------------------------- the walk


def parse_webhook(body: bytes) -> ParsedWebhook:
    """Every fact a Cloud API webhook body states; raises ``PayloadError`` only for non-JSON
    or a top level that is not an object."""
    envelope, skipped = decode_envelope(body)
    out = _Collector(skipped)
    for i, entry in enumerate(envelope.entry):
        _visit_entry(entry, f"entry[{i}]", out)
    return out.result(envelope.object)


_TEMPLATE_EVENTS: Final = {
    "message_template_status_update": "status",
    "template_category_update": "category",
    "message_template_quality_update": "quality",
    "message_template_components_update": "components",
}
# Fields whose facts come from value lists (the lists are read whatever the field says).
_ITEM_FIELDS: Final = frozenset({"messages", "calls", "smb_message_echoes", "user_id_update"})


def _visit_entry(entry: Entry, path: str, out: _Collector) -> None:
    account = _text(entry.id)
    if account:
        out.accounts[account] = None
    if not entry.changes:
        out.skipped.append(Skipped("", path, "entry has no changes"))
    entry_time = _to_datetime(entry.time)
    for j, change in enumerate(entry.changes):
        _visit_change(change, account, entry_time, f"{path}.changes[{j}]", out)


def _visit_change(
    change: Change, account: str | None, entry_time: datetime | None, path: str, out: _Collector
) -> None:
    field = change.field or ""
    value = change.value
    if value is None:
        out.skipped.append(Skipped(field, path, "change has no value object"))
        return
    line = _text(value.metadata.phone_number_id) if value.metadata else None
    if line:
        out.lines[line] = None
    if field in _TEMPLATE_EVENTS:
        _visit_template(value, Skipped(field, path, ""), account, entry_time, out)
        return
    for k, error in enumerate(value.errors):
        out.skipped.append(Skipped(field, f"{path}.value.errors[{k}]", _error_note(error)))
    has_items = _has_items(value)
    if not has_items:
        out.skipped.append(Skipped(field, path, _no_items_note(field)))
    if not line:
        if has_items or value.contacts:
            out.skipped.append(Skipped(field, path, "no metadata.phone_number_id: no line"))
        return
    _visit_items(value, _Change(field, f"{path}.value", line, entry_time, out))


def _visit_template(
    value: Value, where: Skipped, account: str | None, at: datetime | None, out: _Collector
) -> None:
    """A template webhook; ``where`` names the change (field, path) should it give nothing."""
    fact = _template_change(value, _TEMPLATE_EVENTS[where.field], account, at)
    if fact is None:
        reason = "template change without message_template_id or entry id"
        out.skipped.append(Skipped(where.field, where.path, reason))
    else:
        out.facts.append(fact)


def _no_items_note(field: str) -> str:
    if field in _ITEM_FIELDS:
        return f"{field}: no message, status, echo, call or user_id_update in this value"
    return f"{field or '(no field)'}: no fact for this field"


def _has_items(value: Value) -> bool:
    return bool(
        value.messages
        or value.statuses
        or value.message_echoes
        or value.calls
        or value.user_id_update
        or _is_flat_user_id_update(value)
    )


def _is_flat_user_id_update(value: Value) -> bool:
    """``value`` itself is one ``user_id_update`` item (see ``UserIdUpdate``)."""
    if isinstance(value.user_id, IdPair):
        return True
    has_previous = bool(value.previous_user_id or value.old_user_id)
    return has_previous and bool(value.user_id or value.new_user_id)


def _error_note(error: ErrorWire) -> str:
    title = error.title or error.message or "no title"
    return f"webhook-level error {_text(error.code) or '?'}: {title}"


def _visit_items(value: Value, ctx: _Change) -> None:
    ctx.set_contacts(value.contacts)
    _observe_contacts(value, ctx)
    for i, message in enumerate(value.messages):
        _visit_message(message, f"messages[{i}]", ctx)
    for i, status in enumerate(value.statuses):
        _visit_status(status, f"statuses[{i}]", ctx)
    for i, echo in enumerate(value.message_echoes):
        _visit_echo(echo, f"message_echoes[{i}]", ctx)
    for i, call in enumerate(value.calls):
        _visit_call(call, f"calls[{i}]", ctx)
    for i, update in enumerate(value.user_id_update):
        _visit_user_id_update(update, f"user_id_update[{i}]", ctx)
    if not value.user_id_update and _is_flat_user_id_update(value):
        _visit_user_id_update(value, "", ctx)  # the value itself is the item


def _observe_contacts(value: Value, ctx: _Change) -> None:
    """Each contact names its ids together: that is what links a wa_id to a user_id."""
    if not ctx.contacts:
        return
    at = _first_time(value) or ctx.entry_time
    for k, identity in enumerate(ctx.contacts):
        if not identity:
            ctx.skip(f"contacts[{k}]", "contact names no identifier")
        elif at is None:
            ctx.skip(f"contacts[{k}]", "no time in this change to date the identity")
        else:
            ctx.add(IdentityObserved(ctx.line, at, identity))


# --------------------------------------------------------------------------- messages

# User-sent types that are not new messages: they neither open the window nor count.
_NOT_NEW_MESSAGES: Final = {
    "edit": "message type 'edit': the user edited an earlier message, not a new message",
    "revoke": "message type 'revoke': the user deleted an earlier message, not a new message",
}


def _visit_message(msg: Message, where: str, ctx: _Change) -> None:
    kind = msg.type or "unknown"
    if kind == "system":
        _visit_system(msg, where, ctx)
        return
    if kind in _NOT_NEW_MESSAGES:
        ctx.skip(where, _NOT_NEW_MESSAGES[kind])
        return
    at = ctx.at(msg.timestamp)
    if not msg.id or at is None:
        ctx.skip(where, "message without id or readable timestamp")
        return
    user = ctx.user(msg.from_, msg.from_user_id, msg.from_parent_user_id)
    if not user:
        ctx.skip(where, "message names no user (no from, from_user_id or contact)")
        return
    ctx.add(InboundMessage(ctx.line, msg.id, at, user, kind, _referral(msg.referral)))


def _referral(wire: ReferralWire | None) -> Referral | None:
    if wire is None:
        return None
    return Referral(
        source_type=wire.source_type,
        source_id=_text(wire.source_id),
        source_url=wire.source_url,
        ctwa_clid=wire.ctwa_clid,
    )


_SYSTEM_NOTES: Final = {
    "customer_identity_changed": "system message 'customer_identity_changed': the user's "
    "security code changed; no fact (system messages do not touch the window)",
}


def _visit_system(msg: Message, where: str, ctx: _Change) -> None:
    system = msg.system or SystemWire()
    kind = system.type or "unknown"
    at = ctx.at(msg.timestamp)
    if kind not in ("user_changed_number", "user_changed_user_id"):
        note = f"system message {kind!r}: no fact (system messages do not touch the window)"
        ctx.skip(where, _SYSTEM_NOTES.get(kind, note))
    elif at is None:
        ctx.skip(where, f"system message {kind!r} without a readable timestamp")
    elif kind == "user_changed_number":
        _number_changed(msg, system, at, where, ctx)
    else:
        _user_id_changed(msg, system, at, where, ctx)


def _new_ids(system: SystemWire) -> Identity:
    return Identity.of(
        wa_id=_text(system.wa_id) or _text(system.new_wa_id),
        bsuid=system.new_user_id or system.user_id,
        parent_bsuid=system.new_parent_user_id or system.parent_user_id,
    )


def _number_changed(
    msg: Message, system: SystemWire, at: datetime, where: str, ctx: _Change
) -> None:
    """Old and new number are one contact (1.1); a regenerated BSUID is a BsuidChanged too."""
    old = ctx.user(msg.from_, msg.from_user_id, msg.from_parent_user_id)
    new = _new_ids(system)
    linked = old.union(new)  # keeps the old side's name: the new side has none
    if linked:
        ctx.add(IdentityObserved(ctx.line, at, linked))
    else:
        ctx.skip(where, "system message 'user_changed_number' names no identifier")
    previous, current = system.previous_user_id, new.bsuid
    if previous and current and previous != current:
        ctx.add(BsuidChanged(ctx.line, at, previous, current, linked))


def _user_id_changed(
    msg: Message, system: SystemWire, at: datetime, where: str, ctx: _Change
) -> None:
    sender = ctx.user(msg.from_, msg.from_user_id, msg.from_parent_user_id)
    previous = system.previous_user_id
    # The new BSUID is in system (Aug 2026 changelog); from_user_id is the fallback.
    current = _new_ids(system).bsuid or msg.from_user_id
    if not previous or not current or previous == current:
        ctx.skip(where, "system message 'user_changed_user_id' without distinct previous/new ids")
        return
    user = sender.union(_new_ids(system)).union(Identity.of(bsuid=current))
    ctx.add(BsuidChanged(ctx.line, at, previous, current, user))


def _visit_user_id_update(update: UserIdUpdate, where: str, ctx: _Change) -> None:
    previous, current = _bsuid_pair(update.user_id, update.previous_user_id or update.old_user_id)
    current = update.new_user_id or current
    _, parent = _bsuid_pair(update.parent_user_id, update.previous_parent_user_id)
    at = ctx.at(update.timestamp)
    if not previous or not current or previous == current:
        ctx.skip(where, "user_id_update without distinct previous and new user_id")
    elif at is None:
        ctx.skip(where, "user_id_update without a readable timestamp or entry time")
    else:
        user = ctx.user(update.wa_id, current, update.new_parent_user_id or parent)
        ctx.add(BsuidChanged(ctx.line, at, previous, current, user))


def _bsuid_pair(value: str | IdPair | None, previous: str | None) -> tuple[str | None, str | None]:
    """(previous, new) from ``{"previous","current"}``/``{"old","new"}`` or a plain new id."""
    if isinstance(value, IdPair):
        return previous or value.previous or value.old, value.current or value.new
    return previous, value


# --------------------------------------------------------------------------- statuses


def _visit_status(status: Status, where: str, ctx: _Change) -> None:
    kind = (status.type or "message").lower()
    if kind != "message":
        ctx.skip(where, f"status of type {kind!r}: not the status of a message")
        return
    if (status.recipient_type or "").lower() == "group":
        ctx.skip(where, "status of a group message: groups have no one-to-one window")
        return
    at = ctx.at(status.timestamp)
    if not status.id or not status.status or at is None:
        ctx.skip(where, "status without id, status or readable timestamp")
        return
    # A failed status may name nobody at all: still a fact, with an empty identity.
    user = ctx.user(status.recipient_id, status.recipient_user_id, status.recipient_parent_user_id)
    ctx.add(
        StatusUpdate(
            line=ctx.line,
            message_id=status.id,
            status=status.status.strip().lower(),
            at=at,
            user=user,
            errors=tuple(_provider_error(e) for e in status.errors),
            conversation=_conversation(status.conversation),
            pricing=_pricing(status.pricing),
        )
    )


def _provider_error(error: ErrorWire) -> ProviderError:
    details = error.error_data.details if error.error_data else None
    return ProviderError(_int(error.code), error.title, error.message, details)


def _conversation(wire: ConversationWire | None) -> ProviderConversation | None:
    if wire is None:
        return None
    origin = wire.origin.type if wire.origin else None
    return ProviderConversation(
        id=_text(wire.id),
        expires_at=_to_datetime(wire.expiration_timestamp),
        origin_type=normalise_category(origin),
    )


def _pricing(wire: PricingWire | None) -> ProviderPricing | None:
    if wire is None:
        return None
    return ProviderPricing(
        billable=wire.billable,
        model=wire.pricing_model,
        category=normalise_category(wire.category),
        type=wire.type,
    )


# --------------------------------------------------------------------------- echoes, calls


def _visit_echo(echo: Echo, where: str, ctx: _Change) -> None:
    kind = echo.type or "unknown"
    if kind in ("edit", "revoke"):
        ctx.skip(where, f"echo of type {kind!r}: changes an earlier message, not a new one")
        return
    at = ctx.at(echo.timestamp)
    if not echo.id or at is None:
        ctx.skip(where, "echo without id or readable timestamp")
        return
    user = ctx.user(echo.to, echo.to_user_id, echo.to_parent_user_id)
    if not user:
        ctx.skip(where, "echo names no recipient (no to, to_user_id or contact)")
        return
    template = _template_ref(echo.template)
    ctx.add(OutboundMessage(ctx.line, echo.id, at, user, kind, template, None, OutboundSource.ECHO))


def _template_ref(wire: TemplateWire | None) -> TemplateRef | None:
    if wire is None or not wire.name:
        return None
    language = wire.language
    code = language.code if isinstance(language, TemplateLanguage) else language
    return TemplateRef(wire.name, code)


def _visit_call(call: Call, where: str, ctx: _Change) -> None:
    direction = (call.direction or "").upper()
    if direction != "USER_INITIATED":
        note = direction.lower() or "direction unknown"
        ctx.skip(where, f"call ({note}): only calls the user starts open the window")
        return
    at = ctx.at(call.timestamp)
    if not call.id or at is None:
        ctx.skip(where, "call without id or readable timestamp")
        return
    user = ctx.user(call.from_, call.from_user_id, call.from_parent_user_id)
    if not user:
        ctx.skip(where, "call names no user (no from, from_user_id or contact)")
        return
    ctx.add(UserCall(ctx.line, call.id, at, user, call.event or "connect"))


# --------------------------------------------------------------------------- templates


def _template_change(
    value: Value, event: str, account: str | None, at: datetime | None
) -> TemplateChange | None:
    """A template webhook (templates belong to the account, not to a line)."""
    template_id = _text(value.message_template_id)
    if not template_id or not account:
        return None
    status = _upper(value.event) if event == "status" else None
    category = value.message_template_category if event == "status" else value.new_category
    return TemplateChange(
        account=account,
        template_id=template_id,
        event=event,
        at=at,
        name=value.message_template_name,
        language=value.message_template_language,
        status=status,
        category=normalise_category(category),
        previous_category=normalise_category(value.previous_category),
        quality=_upper(value.new_quality_score),
        reason=value.reason,
        body=value.message_template_element,
    )
