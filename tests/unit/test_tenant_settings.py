"""Tenant settings as stored, as changed, and as the rules take them."""

from __future__ import annotations

from datetime import timedelta

from wawindow.domain.policy import DEFAULT_POLICY, Policy
from wawindow.service.tenant_settings import (
    SettingsChange,
    policy_from_settings,
    settings_document,
)

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def test_a_tenant_that_changed_nothing_has_the_defaults() -> None:
    assert policy_from_settings({}) == DEFAULT_POLICY
    assert policy_from_settings(None) == DEFAULT_POLICY
    assert settings_document(DEFAULT_POLICY) == {
        "inactive_after": "PT30M",
        "window_expiring_leads": ["PT1H"],
        "lead_unanswered_warning": "PT2H",
        "send_margin": "PT1M",
    }


def test_stored_settings_read_back_as_written() -> None:
    policy = Policy(
        inactive_after=10 * MINUTE,
        window_expiring_leads=(2 * HOUR, 15 * MINUTE),
        lead_unanswered_warning=6 * HOUR,
        send_margin=timedelta(0),
    )
    assert policy_from_settings(settings_document(policy)) == policy


def test_a_value_unreadable_or_out_of_bounds_in_storage_falls_back_to_defaults() -> None:
    assert policy_from_settings({"inactive_after": "soon"}) == DEFAULT_POLICY
    assert policy_from_settings({"inactive_after": 42}) == DEFAULT_POLICY
    assert policy_from_settings({"send_margin": "PT1H"}) == DEFAULT_POLICY
    assert policy_from_settings({"window_expiring_leads": ["PT1H", "x"]}) == DEFAULT_POLICY
    kept = policy_from_settings({"inactive_after": "PT5M", "other": "ignored"})
    assert kept == Policy(inactive_after=5 * MINUTE)


def test_a_change_keeps_what_it_does_not_name_and_resets_what_it_asks() -> None:
    current = Policy(inactive_after=5 * MINUTE, send_margin=timedelta(0))
    change = SettingsChange(window_expiring_leads=(), reset=frozenset({"inactive_after"}))
    assert change.applied_to(current) == Policy(
        inactive_after=DEFAULT_POLICY.inactive_after,
        send_margin=timedelta(0),
        window_expiring_leads=(),
    )
