"""The bounds of a tenant's settings (DESIGN 1.5, 1.8, 1.9): each problem names its setting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wawindow.domain.policy import DEFAULT_POLICY, Policy, policy_problems

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def fields(policy: Policy) -> list[str]:
    return [name for name, _ in policy_problems(policy)]


def test_the_defaults_are_within_bounds() -> None:
    assert policy_problems(DEFAULT_POLICY) == []


@pytest.mark.parametrize("value", [MINUTE, 24 * HOUR, 30 * MINUTE])
def test_inactive_after_from_a_minute_to_a_day(value: timedelta) -> None:
    assert policy_problems(Policy(inactive_after=value)) == []


@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=59), 24 * HOUR + MINUTE])
def test_inactive_after_out_of_bounds(value: timedelta) -> None:
    ((name, message),) = policy_problems(Policy(inactive_after=value))
    assert name == "inactive_after"
    assert "at least 1 minute and at most 24 hours" in message


def test_send_margin_from_zero_to_ten_minutes() -> None:
    assert policy_problems(Policy(send_margin=timedelta(0))) == []
    assert policy_problems(Policy(send_margin=10 * MINUTE)) == []
    assert fields(Policy(send_margin=10 * MINUTE + timedelta(seconds=1))) == ["send_margin"]


def test_lead_warning_must_come_after_the_lead_itself() -> None:
    assert policy_problems(Policy(lead_unanswered_warning=23 * HOUR)) == []
    assert fields(Policy(lead_unanswered_warning=24 * HOUR)) == ["lead_unanswered_warning"]


def test_each_window_lead_is_named_by_its_index() -> None:
    policy = Policy(window_expiring_leads=(HOUR, 24 * HOUR, timedelta(seconds=30)))
    assert fields(policy) == ["window_expiring_leads.1", "window_expiring_leads.2"]


def test_no_lead_twice_and_at_most_five() -> None:
    assert fields(Policy(window_expiring_leads=(HOUR, HOUR))) == ["window_expiring_leads.1"]
    six = tuple(n * MINUTE for n in range(1, 7))
    assert fields(Policy(window_expiring_leads=six)) == ["window_expiring_leads"]


def test_no_leads_turns_the_warning_off() -> None:
    assert policy_problems(Policy(window_expiring_leads=())) == []


def test_fractions_of_a_second_are_refused() -> None:
    ((name, message),) = policy_problems(Policy(send_margin=timedelta(seconds=1.5)))
    assert (name, message) == ("send_margin", "must be whole seconds")
