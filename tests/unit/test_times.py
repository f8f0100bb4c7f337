"""Time helpers: Unix seconds in, ISO 8601 with ``Z`` out, local calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from wawindow.domain.times import (
    FEP_DURATION,
    SERVICE_WINDOW,
    from_unix,
    iso_z,
    local_date,
    parse_iso,
    to_utc,
)

INSTANT = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


def test_the_rule_durations() -> None:
    assert timedelta(hours=24) == SERVICE_WINDOW
    assert timedelta(hours=72) == FEP_DURATION


@pytest.mark.parametrize("seconds", ["1749416383", 1749416383, 1749416383.0, "1749416383.7"])
def test_from_unix_accepts_strings_and_numbers_to_the_second(seconds: int | str | float) -> None:
    assert from_unix(seconds) == INSTANT
    assert from_unix(seconds).tzinfo is UTC


def test_to_utc_takes_naive_as_utc_and_drops_microseconds() -> None:
    assert to_utc(datetime(2026, 1, 1, 12, 0, 0, 999_999)) == datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_to_utc_converts_an_offset_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert to_utc(datetime(2026, 1, 1, 12, tzinfo=plus_two)) == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_iso_z_prints_utc_with_z() -> None:
    assert iso_z(INSTANT) == "2025-06-08T20:59:43Z"


def test_iso_z_converts_other_zones_and_drops_microseconds() -> None:
    sao_paulo = datetime(2026, 3, 10, 9, 0, 0, 500_000, tzinfo=ZoneInfo("America/Sao_Paulo"))
    assert iso_z(sao_paulo) == "2026-03-10T12:00:00Z"


def test_iso_z_of_nothing_is_nothing() -> None:
    assert iso_z(None) is None


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-21T12:00:00Z",
        "2026-11-21T12:00:00z",
        "  2026-11-21T12:00:00Z ",
        "2026-11-21T12:00:00+00:00",
        "2026-11-21T09:00:00-03:00",
        "2026-11-21T12:00:00",  # a bare date-time is UTC
        "2026-11-21T12:00:00.250Z",
    ],
)
def test_parse_iso_accepts_z_offsets_and_naive(text: str) -> None:
    parsed = parse_iso(text)
    assert parsed == datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    assert parsed.microsecond == 0


def test_parse_iso_round_trips_iso_z() -> None:
    assert iso_z(parse_iso("2026-11-21T12:00:00Z")) == "2026-11-21T12:00:00Z"


def test_local_date_is_the_day_in_the_lines_time_zone() -> None:
    instant = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)  # 23:00 on June 30th in São Paulo
    assert local_date(instant, UTC) == date(2025, 7, 1)
    assert local_date(instant, ZoneInfo("America/Sao_Paulo")) == date(2025, 6, 30)
    assert local_date(instant, ZoneInfo("Asia/Tokyo")) == date(2025, 7, 1)
