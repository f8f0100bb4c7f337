"""The customer service window (CSW, DESIGN 1.3).

Opens with any user message or user call, and each later one resets it:
``expires_at = last_inbound_at + 24h``. Business messages (templates included)
never open or extend it. Provider evidence wins over arithmetic: a send that
failed with 131047 proves the window was closed when it was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wawindow.domain.times import SERVICE_WINDOW


@dataclass(frozen=True, slots=True)
class ServiceWindow:
    last_inbound_at: datetime | None = None
    closed_by_provider_at: datetime | None = None

    @property
    def expires_at(self) -> datetime | None:
        """When the window ends by arithmetic (24h after the last inbound)."""
        if self.last_inbound_at is None:
            return None
        return self.last_inbound_at + SERVICE_WINDOW

    @property
    def ends_at(self) -> datetime | None:
        """When the window ends: the provider's evidence if it came first."""
        expiry = self.expires_at
        if expiry is None or self.closed_by_provider_at is None:
            return expiry
        return min(expiry, self.closed_by_provider_at)

    def is_open(self, at: datetime) -> bool:
        if self.last_inbound_at is None or at < self.last_inbound_at:
            return False
        ends = self.ends_at
        return ends is not None and at < ends

    def can_judge(self, at: datetime) -> bool:
        """Whether this state knows the window at ``at``: no inbound came after it."""
        return self.last_inbound_at is None or self.last_inbound_at <= at

    def on_inbound(self, at: datetime) -> ServiceWindow:
        if self.last_inbound_at is not None and at < self.last_inbound_at:
            return self
        return ServiceWindow(last_inbound_at=at)

    def closed_by_provider(self, at: datetime) -> ServiceWindow:
        """A 131047 for a message sent at ``at``: closed from then until the next inbound."""
        if self.closed_by_provider_at is not None and self.closed_by_provider_at <= at:
            return self
        return ServiceWindow(self.last_inbound_at, at)
