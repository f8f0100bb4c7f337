"""Time helpers. The domain never reads the clock: every instant is an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

DAY = timedelta(hours=24)
SERVICE_WINDOW = DAY
FEP_REPLY_WINDOW = DAY
FEP_DURATION = timedelta(hours=72)
FEP_LONGEST = timedelta(days=7)  # Meta: an FEP "may remain open for up to 7 days"
CBP_CONVERSATION = DAY


def from_unix(seconds: int | str | float) -> datetime:
    """WhatsApp timestamps are Unix seconds, often as strings."""
    return datetime.fromtimestamp(int(float(seconds)), tz=UTC)


def to_utc(at: datetime) -> datetime:
    """An aware instant in UTC with second precision (naive input is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(microsecond=0)


def iso_z(at: datetime | None) -> str | None:
    """``2026-11-21T12:00:00Z``: the one time format wawindow prints."""
    if at is None:
        return None
    return to_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601 (``Z`` or an offset; a bare date-time is UTC)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(value))


def local_date(at: datetime, zone: tzinfo) -> date:
    """The calendar day of an instant in a line's time zone (eras and months turn there)."""
    return at.astimezone(zone).date()
