"""The free entry point window (FEP, DESIGN 1.4).

A user writes from a Click-to-WhatsApp ad or a Page call-to-action (the inbound
message carries a ``referral``). If the business replies within 24h of that
message, an FEP opens at the reply and lasts 72h, during which every message is
free; a provider-reported expiry (Meta says it may last up to 7 days) wins. With
no reply within 24h the lead is *unanswered* and no FEP opens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from wawindow.domain.times import FEP_DURATION, FEP_LONGEST, FEP_REPLY_WINDOW


@dataclass(frozen=True, slots=True)
class EntryPoint:
    lead_at: datetime | None = None  # the latest ad/CTA inbound not covered by an open FEP
    lead_message_id: str | None = None
    answered: bool = False
    opened_at: datetime | None = None
    computed_expires_at: datetime | None = None
    provider_expires_at: datetime | None = None

    @property
    def expires_at(self) -> datetime | None:
        return self.provider_expires_at or self.computed_expires_at

    def is_open(self, at: datetime) -> bool:
        expires = self.expires_at
        return self.opened_at is not None and expires is not None and self.opened_at <= at < expires

    @property
    def lead_deadline(self) -> datetime | None:
        """When an unanswered lead becomes ``unanswered`` (inbound + 24h)."""
        if self.lead_at is None or self.answered:
            return None
        return self.lead_at + FEP_REPLY_WINDOW

    def is_unanswered(self, at: datetime) -> bool:
        deadline = self.lead_deadline
        return deadline is not None and at >= deadline

    def on_referral(self, at: datetime, message_id: str) -> EntryPoint:
        if self.is_open(at):
            return self  # an FEP is running: a new ad click does not start another
        return replace(self, lead_at=at, lead_message_id=message_id, answered=False)

    def on_business_message(self, at: datetime) -> EntryPoint:
        """The business replied: opens the FEP if the lead is still within 24h."""
        deadline = self.lead_deadline
        if deadline is None or self.lead_at is None or not (self.lead_at <= at < deadline):
            return self
        return EntryPoint(
            lead_at=self.lead_at,
            lead_message_id=self.lead_message_id,
            answered=True,
            opened_at=at,
            computed_expires_at=at + FEP_DURATION,
        )

    def on_provider_expiry(self, sent_at: datetime, expires_at: datetime) -> EntryPoint:
        """A status says this message was in an FEP that expires at ``expires_at``.

        That extends the FEP we know when it fits it (Meta lets one run up to 7 days);
        otherwise it is another FEP whose ad click we never saw, open from this send.
        """
        if self._extended_by(sent_at, expires_at):
            if self.provider_expires_at == expires_at:
                return self
            return replace(self, provider_expires_at=expires_at)
        return replace(
            self,
            answered=True,
            opened_at=sent_at,
            computed_expires_at=None,
            provider_expires_at=expires_at,
        )

    def _extended_by(self, sent_at: datetime, expires_at: datetime) -> bool:
        opened = self.opened_at
        if opened is None or sent_at < opened:
            return False
        return self.is_open(sent_at) or expires_at - opened <= FEP_LONGEST
