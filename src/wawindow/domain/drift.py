"""Drift: where wawindow's computation and what the provider reported disagree.

Provider evidence wins, and every disagreement is recorded so that an operator
can see where the arithmetic (or a lost webhook) went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from wawindow.domain.events import DomainEvent, event


class DriftKind(StrEnum):
    WINDOW = "window"
    BILLING = "billing"


@dataclass(frozen=True, slots=True)
class Drift:
    kind: DriftKind
    message_id: str
    at: datetime
    computed: str
    provider: str
    detail: str = ""

    def event(self) -> DomainEvent:
        return event(
            f"{self.kind.value}.drift",
            self.at,
            self.message_id,
            computed=self.computed,
            provider=self.provider,
            detail=self.detail,
        )
