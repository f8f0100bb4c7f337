"""Tenant settings that the rules depend on, with the defaults DESIGN 1.5, 1.8, 1.9 give.

A tenant may change four of them (``GET/PATCH /v1/settings``, ``wawindow tenant
settings``), within the bounds below; ``policy_problems`` says which value is out
of bounds and why. The time zone is a line's, not a tenant's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo
from typing import Final

from wawindow.domain.times import DAY


@dataclass(frozen=True, slots=True)
class Policy:
    inactive_after: timedelta = timedelta(minutes=30)
    send_margin: timedelta = timedelta(seconds=60)
    window_expiring_leads: tuple[timedelta, ...] = (timedelta(minutes=60),)
    lead_unanswered_warning: timedelta = timedelta(hours=2)
    timezone: tzinfo = field(default=UTC)


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class Bounds:
    """``shortest <= value <= longest`` (``value < longest`` when ``open_above``)."""

    shortest: timedelta
    longest: timedelta
    open_above: bool = False

    def problem(self, value: timedelta) -> str | None:
        too_long = value >= self.longest if self.open_above else value > self.longest
        if value < self.shortest or too_long:
            upper = "less than" if self.open_above else "at most"
            return f"must be at least {_words(self.shortest)} and {upper} {_words(self.longest)}"
        if value.microseconds:
            return "must be whole seconds"
        return None


MINUTE: Final = timedelta(minutes=1)
INACTIVE_AFTER: Final = Bounds(MINUTE, DAY)
# A lead of 24h or more would warn before the window opened; the warning likewise.
WINDOW_EXPIRING_LEAD: Final = Bounds(MINUTE, DAY, open_above=True)
LEAD_UNANSWERED_WARNING: Final = Bounds(MINUTE, DAY, open_above=True)
SEND_MARGIN: Final = Bounds(timedelta(0), timedelta(minutes=10))
MOST_EXPIRING_LEADS: Final = 5


def policy_problems(policy: Policy) -> list[tuple[str, str]]:
    """(setting, what is wrong) for every value of ``policy`` out of its bounds."""
    return list(_problems(policy))


def _problems(policy: Policy) -> Iterator[tuple[str, str]]:
    for name, bounds, value in (
        ("inactive_after", INACTIVE_AFTER, policy.inactive_after),
        ("lead_unanswered_warning", LEAD_UNANSWERED_WARNING, policy.lead_unanswered_warning),
        ("send_margin", SEND_MARGIN, policy.send_margin),
    ):
        problem = bounds.problem(value)
        if problem:
            yield name, problem
    leads = policy.window_expiring_leads
    if len(leads) > MOST_EXPIRING_LEADS:
        yield "window_expiring_leads", f"at most {MOST_EXPIRING_LEADS} lead times"
    for index, lead in enumerate(leads):
        problem = WINDOW_EXPIRING_LEAD.problem(lead)
        if problem:
            yield f"window_expiring_leads.{index}", problem
        elif lead in leads[:index]:
            yield f"window_expiring_leads.{index}", "is listed twice"


def _words(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "0 seconds"
