"""Retries of webhook deliveries: exponential backoff with jitter for at least 24 hours,
and disabling an endpoint that has failed for 3 days. No sleeping: time is an argument."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wawindow.domain.delivery_retries import (
    DISABLE_AFTER,
    LONGEST_WAIT,
    RETRY_PERIOD,
    next_attempt_at,
    retry_wait,
    should_disable,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def schedule(draws: list[float]) -> list[datetime]:
    """The attempt times of a round that always fails, with the given random draws."""
    times = [T0]
    for failed, draw in enumerate(draws, start=1):
        retry = next_attempt_at(T0, times[-1], failed, draw)
        if retry is None:
            return times
        times.append(retry)
    raise AssertionError("the round was never given up")


def test_the_nominal_waits_grow_four_times_up_to_six_hours() -> None:
    waits = [retry_wait(n, 0.0) for n in range(1, 11)]

    assert waits[:7] == [
        timedelta(seconds=5),
        timedelta(seconds=20),
        timedelta(seconds=80),
        timedelta(seconds=320),
        timedelta(seconds=1280),
        timedelta(seconds=5120),
        timedelta(seconds=20480),
    ]
    assert waits[7:] == [LONGEST_WAIT] * 3
    assert retry_wait(1000, 0.0) == LONGEST_WAIT


def test_jitter_lengthens_a_wait_by_up_to_a_quarter_in_whole_seconds() -> None:
    assert retry_wait(3, 0.5) == timedelta(seconds=90)  # 80 s × 1.125
    assert retry_wait(1, 0.5) == timedelta(seconds=6)  # 5.625 s, rounded up
    assert retry_wait(4, 0.999) == timedelta(seconds=400)  # 320 s × 1.24975, rounded up
    assert retry_wait(9, 0.5) == LONGEST_WAIT * 1.125


def test_the_nominal_round_is_eleven_attempts_over_about_25_hours() -> None:
    times = schedule([0.0] * 50)

    assert len(times) == 11
    offsets = [int((at - T0).total_seconds()) for at in times]
    assert offsets == [0, 5, 25, 105, 425, 1705, 6825, 27305, 48905, 70505, 92105]
    assert times[-1] - T0 >= RETRY_PERIOD


@given(st.lists(st.floats(min_value=0.0, max_value=0.999999), min_size=40, max_size=40))
def test_whatever_the_jitter_a_round_retries_for_at_least_24_hours(draws: list[float]) -> None:
    times = schedule(draws)

    assert times[-1] - T0 >= RETRY_PERIOD
    assert times == sorted(times)
    # and it does not go on much longer: the last wait is at most 6 h plus a quarter
    assert times[-1] - T0 < RETRY_PERIOD + LONGEST_WAIT * 1.25


def test_a_failure_24_hours_after_the_first_attempt_ends_the_round() -> None:
    assert next_attempt_at(T0, T0 + RETRY_PERIOD, 11, 0.0) is None
    almost = T0 + RETRY_PERIOD - timedelta(seconds=1)
    assert next_attempt_at(T0, almost, 10, 0.0) == almost + LONGEST_WAIT


@pytest.mark.parametrize(("failed", "draw"), [(0, 0.0), (1, -0.1), (1, 1.0)])
def test_out_of_range_arguments_are_refused(failed: int, draw: float) -> None:
    with pytest.raises(ValueError, match=r"must be|counts from"):
        retry_wait(failed, draw)


def test_an_endpoint_is_disabled_after_three_days_of_failures() -> None:
    assert not should_disable(T0, T0 + DISABLE_AFTER - timedelta(seconds=1))
    assert should_disable(T0, T0 + DISABLE_AFTER)
    assert timedelta(days=3) == DISABLE_AFTER
