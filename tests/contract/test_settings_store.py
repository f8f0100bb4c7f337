"""Tenant settings on SQL: stored, used by ingestion, and re-planning pending due times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from tests.support.outbox import LINE, START, drain, due_times, ingest, new_tenant, timed
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.settings_store import SqlSettingsStore
from wawindow.domain.facts import InboundMessage, OutboundMessage, Referral
from wawindow.domain.identity import Identity
from wawindow.domain.policy import DEFAULT_POLICY, Policy
from wawindow.service.ingest import Ingestor
from wawindow.service.tenant_settings import (
    SettingsChange,
    SettingsChanged,
    SettingsError,
    TenantNotFound,
    change_settings,
    read_settings,
)

T = START
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(hours=24)
USER = Identity.of(wa_id="16505551234")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def tenant(engine: Engine) -> str:
    return new_tenant(engine)


def change(engine: Engine, tenant: str, at: datetime, **values: object) -> SettingsChanged:
    with SqlSettingsStore(engine) as store:
        return change_settings(store, tenant, SettingsChange(**values), at)  # type: ignore[arg-type]


def settings(engine: Engine, tenant: str) -> Policy:
    with SqlSettingsStore(engine) as store:
        return read_settings(store, tenant)


def of_type(engine: Engine, kind: str) -> list[datetime]:
    return [at for found, at in due_times(engine) if found == kind]


def test_settings_are_stored_and_read_back(engine: Engine, tenant: str) -> None:
    assert settings(engine, tenant) == DEFAULT_POLICY
    changed = change(engine, tenant, T, inactive_after=10 * MINUTE, send_margin=timedelta(0))
    assert changed.settings == settings(engine, tenant)
    assert settings(engine, tenant) == Policy(inactive_after=10 * MINUTE, send_margin=timedelta(0))
    other = new_tenant(engine, "globex", "999000111")
    assert settings(engine, other) == DEFAULT_POLICY


def test_lead_times_are_kept_longest_first(engine: Engine, tenant: str) -> None:
    change(engine, tenant, T, window_expiring_leads=(15 * MINUTE, 2 * HOUR))
    assert settings(engine, tenant).window_expiring_leads == (2 * HOUR, 15 * MINUTE)


def test_values_out_of_bounds_change_nothing(engine: Engine, tenant: str) -> None:
    with pytest.raises(SettingsError) as raised:
        change(engine, tenant, T, inactive_after=timedelta(seconds=5), send_margin=HOUR)
    assert [name for name, _ in raised.value.problems] == ["inactive_after", "send_margin"]
    assert settings(engine, tenant) == DEFAULT_POLICY


def test_an_unknown_tenant_is_not_found(engine: Engine) -> None:
    with pytest.raises(TenantNotFound):
        settings(engine, "tn_nobody")


def test_ingestion_plans_with_the_tenants_settings(engine: Engine, tenant: str) -> None:
    change(engine, tenant, T, inactive_after=10 * MINUTE, window_expiring_leads=())
    ingest(engine, InboundMessage(LINE, "in1", T, USER, "text"), at=T)
    assert of_type(engine, "conversation.inactive") == [T + 10 * MINUTE]
    assert of_type(engine, "window.expiring") == []


def test_a_change_re_plans_the_pending_due_times(engine: Engine, tenant: str) -> None:
    ad = Referral(source_type="ad", source_id="AD1")
    ingest(engine, InboundMessage(LINE, "in1", T, USER, "text", ad), at=T)

    changed = change(
        engine,
        tenant,
        T + 5 * MINUTE,
        inactive_after=10 * MINUTE,
        window_expiring_leads=(2 * HOUR, 15 * MINUTE),
        lead_unanswered_warning=6 * HOUR,
    )

    assert changed.replanned == 7  # 3 cancelled (one of each kind), 4 added
    assert of_type(engine, "conversation.inactive") == [T + 10 * MINUTE]
    assert of_type(engine, "window.expiring") == [T + 22 * HOUR, T + DAY - 15 * MINUTE]
    assert of_type(engine, "lead.unanswered_soon") == [T + 18 * HOUR]
    drain(engine, T + 2 * DAY)
    expiring = [e.occurred_at for e in timed(engine) if e.type == "window.expiring"]
    assert expiring == [T + 22 * HOUR, T + DAY - 15 * MINUTE]


def test_what_already_went_out_is_not_planned_again(engine: Engine, tenant: str) -> None:
    ingest(engine, InboundMessage(LINE, "in1", T, USER, "text"), at=T)
    drain(engine, T + 40 * MINUTE)  # conversation.inactive at 10:30 went out

    change(engine, tenant, T + 40 * MINUTE, inactive_after=20 * MINUTE)

    assert of_type(engine, "conversation.inactive") == []
    drain(engine, T + 2 * DAY)
    inactive = [e.occurred_at for e in timed(engine) if e.type == "conversation.inactive"]
    assert inactive == [T + 30 * MINUTE]


def test_a_folded_thread_is_folded_again_under_new_settings(engine: Engine, tenant: str) -> None:
    ingestor = Ingestor()  # keeps the thread's log cached between bodies
    ingest(engine, InboundMessage(LINE, "in1", T, USER, "text"), at=T, ingestor=ingestor)
    change(engine, tenant, T + MINUTE, inactive_after=5 * MINUTE)
    later = T + 2 * MINUTE
    ingest(engine, OutboundMessage(LINE, "out1", later, USER, "text"), at=later, ingestor=ingestor)

    assert of_type(engine, "conversation.inactive") == [later + 5 * MINUTE]
