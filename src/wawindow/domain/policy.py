"""Tenant settings that the rules depend on, with the defaults DESIGN 1.5, 1.8, 1.9 give."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class Policy:
    inactive_after: timedelta = timedelta(minutes=30)
    send_margin: timedelta = timedelta(seconds=60)
    window_expiring_leads: tuple[timedelta, ...] = (timedelta(minutes=60),)
    lead_unanswered_warning: timedelta = timedelta(hours=2)
    timezone: tzinfo = field(default=UTC)


DEFAULT_POLICY = Policy()
