"""Tenant settings: the four values of a tenant's ``Policy`` it may change.

- ``inactive_after``: a conversation is ``inactive`` once its last message is
  this old (default 30 minutes; 1 minute to 24 hours);
- ``window_expiring_leads``: ``window.expiring`` fires this long before the
  service window closes, once per lead time (default ``[60 minutes]``; up to 5,
  each 1 minute to less than 24 hours; an empty list turns the warning off);
- ``lead_unanswered_warning``: ``lead.unanswered_soon`` fires this long before
  an ad lead goes unanswered (default 2 hours; 1 minute to less than 24 hours);
- ``send_margin``: free-form may be sent only while the window is still open
  this long after the send (default 60 seconds; 0 to 10 minutes).

They are stored in ``tenants.settings`` as ISO 8601 durations. Ingestion folds a
tenant's threads with them, the API computes conversation status and what may be
sent with them, the scheduler emits with them.

A change re-plans the tenant's pending due times that depend on a setting
(``domain.deadlines.replan_for_policy``): the inactivity of every conversation
not yet ended, the expiry warnings of every window not yet closed, the warning
of every lead not yet unanswered. What already went out stays out; a due time
the new value puts in the past is not emitted late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from wawindow.domain.deadlines import replan_for_policy
from wawindow.domain.durations import DurationError, format_duration, parse_iso_duration
from wawindow.domain.policy import Policy, policy_problems
from wawindow.service.timed_events import DueRow

SETTING_NAMES: Final = (
    "inactive_after",
    "window_expiring_leads",
    "lead_unanswered_warning",
    "send_margin",
)


class SettingsError(ValueError):
    """Settings that cannot be used; ``problems`` lists (setting, what is wrong)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))
        self.problems = list(problems)


class TenantNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What a request changes: ``None`` keeps a value, a name in ``reset`` restores its default."""

    inactive_after: timedelta | None = None
    window_expiring_leads: tuple[timedelta, ...] | None = None
    lead_unanswered_warning: timedelta | None = None
    send_margin: timedelta | None = None
    reset: frozenset[str] = frozenset()

    def applied_to(self, current: Policy) -> Policy:
        defaults = Policy(timezone=current.timezone)
        updated = replace(current, **{name: getattr(defaults, name) for name in self.reset})
        given = {name: getattr(self, name) for name in SETTING_NAMES}
        return replace(updated, **{k: v for k, v in given.items() if v is not None})


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    settings: Policy
    replanned: int  # pending due times cancelled or added


class SettingsStore(Protocol):
    def lock_tenant(self, tenant_id: str) -> None:
        """Serialise with ingestion's folds of this tenant for the rest of the transaction."""

    def tenant_settings(self, tenant_id: str) -> Mapping[str, Any] | None:
        """The stored settings; ``None`` when there is no such tenant."""

    def save_tenant_settings(self, tenant_id: str, document: Mapping[str, Any]) -> None: ...

    def pending_due(self, tenant_id: str, types: Sequence[str], after: datetime) -> list[DueRow]:
        """The tenant's indexed due times of these types, due after ``after``."""

    def change_due(self, cancel: Sequence[DueRow], add: Sequence[DueRow]) -> None: ...

    def commit(self) -> None: ...


def read_settings(store: SettingsStore, tenant_id: str) -> Policy:
    stored = store.tenant_settings(tenant_id)
    if stored is None:
        raise TenantNotFound(tenant_id)
    return policy_from_settings(stored)


def change_settings(
    store: SettingsStore, tenant_id: str, change: SettingsChange, now: datetime
) -> SettingsChanged:
    """Validate, store, and re-plan the tenant's pending due times, in one transaction."""
    store.lock_tenant(tenant_id)
    current = read_settings(store, tenant_id)
    wanted = change.applied_to(current)
    problems = policy_problems(wanted)
    if problems:
        raise SettingsError(problems)
    wanted = replace(wanted, window_expiring_leads=_sorted_leads(wanted.window_expiring_leads))
    store.save_tenant_settings(tenant_id, settings_document(wanted))
    replanned = _replan(store, tenant_id, current, wanted, now) if wanted != current else 0
    store.commit()
    return SettingsChanged(wanted, replanned)


def _replan(store: SettingsStore, tenant_id: str, old: Policy, new: Policy, now: datetime) -> int:
    anchors = ("conversation.ended", "window.closed", "lead.unanswered")
    cancel: list[DueRow] = []
    add: list[DueRow] = []
    for row in store.pending_due(tenant_id, anchors, now):
        gone, planned = replan_for_policy(row.deadline, old, new, now)
        cancel.extend(replace(row, deadline=d) for d in gone)
        add.extend(replace(row, deadline=d) for d in planned)
    store.change_due(cancel, add)
    return len(cancel) + len(add)


def settings_document(policy: Policy) -> dict[str, Any]:
    """The settings as stored and as the API shows them (ISO 8601 durations)."""
    return {
        "inactive_after": format_duration(policy.inactive_after),
        "window_expiring_leads": [format_duration(d) for d in policy.window_expiring_leads],
        "lead_unanswered_warning": format_duration(policy.lead_unanswered_warning),
        "send_margin": format_duration(policy.send_margin),
    }


def policy_from_settings(stored: Mapping[str, Any] | None) -> Policy:
    """The tenant's ``Policy`` from its stored settings; a value missing or unreadable
    (written by hand, say) is the default, so a bad row never stops ingestion."""
    policy = Policy()
    if not stored:
        return policy
    values: dict[str, Any] = {}
    for name in ("inactive_after", "lead_unanswered_warning", "send_margin"):
        value = _duration(stored.get(name))
        if value is not None:
            values[name] = value
    leads = stored.get("window_expiring_leads")
    if isinstance(leads, list):
        parsed = [_duration(item) for item in leads]
        if all(item is not None for item in parsed):
            values["window_expiring_leads"] = tuple(d for d in parsed if d is not None)
    wanted = replace(policy, **values)
    return wanted if not policy_problems(wanted) else policy


def _duration(value: object) -> timedelta | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso_duration(value)
    except DurationError:
        return None


def _sorted_leads(leads: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
    return tuple(sorted(leads, reverse=True))
