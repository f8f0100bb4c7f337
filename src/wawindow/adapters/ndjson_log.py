"""Logs of webhook bodies and outbound send records, one JSON object per line (DESIGN 2.6).

Each line is either a Meta webhook body (``{"object": "whatsapp_business_account",
...}``) or an outbound send record::

    {"kind": "outbound", "phone_number_id": "106540352242922", "to": "16505551234",
     "id": "wamid.ABC", "timestamp": "1749416383", "type": "template",
     "template": {"name": "order_update", "language": {"code": "en_US"}},
     "category": "utility"}

``to`` may be replaced by ``recipient`` (a BSUID). A line that cannot be read is
reported with its number and skipped; the rest are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec

from wawindow.adapters.meta.payload import PayloadError, parse_webhook
from wawindow.domain.facts import Fact, OutboundMessage, OutboundSource, TemplateRef
from wawindow.domain.identity import Identity
from wawindow.domain.times import from_unix


class _Language(msgspec.Struct, kw_only=True):
    code: str | None = None


class _Template(msgspec.Struct, kw_only=True):
    name: str
    language: _Language | str | None = None


class OutboundRecord(msgspec.Struct, kw_only=True):
    kind: str
    phone_number_id: str
    id: str
    timestamp: str | int
    to: str | None = None
    recipient: str | None = None
    type: str = "text"
    template: _Template | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class LineError:
    line_number: int
    message: str


@dataclass(frozen=True, slots=True)
class LogLine:
    line_number: int
    facts: tuple[Fact, ...]


def read_log(lines: Iterable[bytes | str]) -> Iterator[LogLine | LineError]:
    """Facts of each non-blank line, or the reason it could not be read."""
    for number, raw in enumerate(lines, start=1):
        data = raw.encode() if isinstance(raw, str) else raw
        if not data.strip():
            continue
        try:
            yield LogLine(number, parse_line(data))
        except (PayloadError, msgspec.ValidationError, msgspec.DecodeError, ValueError) as error:
            yield LineError(number, str(error))


def parse_line(data: bytes) -> tuple[Fact, ...]:
    if b'"kind"' in data:
        head = msgspec.json.decode(data)
        if isinstance(head, dict) and head.get("kind") is not None:
            return (outbound_fact(msgspec.convert(head, OutboundRecord, strict=False)),)
    parsed = parse_webhook(data)
    if parsed.object != "whatsapp_business_account":
        raise ValueError(
            'neither a webhook body ("object": "whatsapp_business_account") '
            'nor an outbound record ("kind": "outbound")'
        )
    return parsed.facts


def outbound_fact(record: OutboundRecord) -> OutboundMessage:
    if record.kind != "outbound":
        raise ValueError(f"kind: expected 'outbound', got {record.kind!r}")
    to = record.to or record.recipient
    if not to:
        raise ValueError("to: an outbound record needs 'to' (a phone number) or 'recipient'")
    user = Identity.of(bsuid=to) if _is_bsuid(to) else Identity.of(wa_id=to)
    template = None
    if record.template is not None:
        language = record.template.language
        code = language.code if isinstance(language, _Language) else language
        template = TemplateRef(record.template.name, code)
    return OutboundMessage(
        line=record.phone_number_id,
        message_id=record.id,
        at=from_unix(record.timestamp),
        user=user,
        type=record.type,
        template=template,
        category=record.category,
        source=OutboundSource.RECORD,
    )


def _is_bsuid(value: str) -> bool:
    """``US.13491208655302741918``: a country code, a dot, the id."""
    return "." in value and value[:2].isalpha()
