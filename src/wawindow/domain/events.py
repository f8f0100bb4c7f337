"""Events the rules produce, named as tenants see them (without the ``whatsapp.`` prefix)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

Scalar = str | int | bool | None


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """``subject`` names what the event is about (a conversation, message or thread id).

    ``key`` is the same whenever the same facts cause the same event, so a store
    can emit each event once even when a late fact makes the fold run again.
    """

    type: str
    at: datetime
    subject: str
    data: Mapping[str, Scalar] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def key(self) -> str:
        return f"{self.type}:{self.subject}:{self.at.isoformat()}"


def event(type_: str, at: datetime, subject: str, **data: Scalar) -> DomainEvent:
    return DomainEvent(type_, at, subject, MappingProxyType(dict(data)))
