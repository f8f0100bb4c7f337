"""Facts and domain values to and from the JSON stored in the database.

msgspec converts the domain's frozen dataclasses both ways; the fact's ``kind``
column says which class a payload is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from wawindow.domain.facts import (
    BsuidChanged,
    Fact,
    IdentityObserved,
    InboundMessage,
    ManualClose,
    OutboundMessage,
    StatusUpdate,
    TemplateChange,
    ThreadFact,
    UserCall,
)

FACT_KINDS: Final[dict[str, type[Any]]] = {
    "inbound": InboundMessage,
    "call": UserCall,
    "outbound": OutboundMessage,
    "status": StatusUpdate,
    "close": ManualClose,
    "identity": IdentityObserved,
    "bsuid_change": BsuidChanged,
    "template": TemplateChange,
}
_KIND_OF: Final = {cls: kind for kind, cls in FACT_KINDS.items()}
THREAD_KINDS: Final = frozenset({"inbound", "call", "outbound", "status", "close"})


def fact_kind(fact: Fact) -> str:
    return _KIND_OF[type(fact)]


def fact_to_json(fact: Fact) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(fact)
    return payload


def fact_from_json(kind: str, payload: dict[str, Any]) -> Fact:
    fact: Fact = msgspec.convert(payload, type=FACT_KINDS[kind])
    return fact


def thread_fact_from_json(kind: str, payload: dict[str, Any]) -> ThreadFact:
    if kind not in THREAD_KINDS:
        raise ValueError(f"not a thread fact: {kind}")
    fact: ThreadFact = msgspec.convert(payload, type=FACT_KINDS[kind])
    return fact


def to_json(value: object) -> Any:
    """Any domain value (dataclasses, datetimes, enums, mappings) as JSON-ready builtins."""
    return msgspec.to_builtins(value, enc_hook=_encode_extra)


def _encode_extra(value: object) -> object:
    if isinstance(value, Mapping):  # MappingProxyType in records
        return dict(value)
    raise NotImplementedError(f"cannot store {type(value).__name__}")
