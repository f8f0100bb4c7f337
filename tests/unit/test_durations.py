"""Durations in settings: ISO 8601 for the API, the short form too for the command line."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wawindow.domain.durations import (
    DurationError,
    format_duration,
    parse_duration,
    parse_iso_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT30M", timedelta(minutes=30)),
        ("PT2H", timedelta(hours=2)),
        ("PT90S", timedelta(seconds=90)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT0S", timedelta(0)),
    ],
)
def test_iso_8601_durations(text: str, expected: timedelta) -> None:
    assert parse_iso_duration(text) == expected
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("60s", timedelta(seconds=60)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 15M ", timedelta(minutes=15)),
        ("pt5m", timedelta(minutes=5)),
        ("0s", timedelta(0)),
    ],
)
def test_the_short_form_on_the_command_line(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "30", "P1M", "P1Y", "P1W", "PT1.5S", "-PT5M", "PT5M3H", "5 m", "m"]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_the_api_form_is_iso_only() -> None:
    with pytest.raises(DurationError, match="ISO 8601"):
        parse_iso_duration("30m")
    with pytest.raises(DurationError):
        parse_iso_duration("pt30m")  # designators are upper-case in ISO 8601


def test_absurdly_long_numbers_are_refused_not_overflowing() -> None:
    with pytest.raises(DurationError, match="too long"):
        parse_duration("PT9999999999999999999H")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=30), "PT30M"),
        (timedelta(hours=24), "PT24H"),
        (timedelta(seconds=60), "PT1M"),
        (timedelta(hours=1, seconds=5), "PT1H5S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_written_back_with_the_largest_units_up_to_hours(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=0, max_value=10 * 24 * 3600))
def test_what_is_written_reads_back_the_same(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_iso_duration(format_duration(value)) == value
