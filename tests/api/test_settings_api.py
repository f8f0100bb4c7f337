"""``/v1/settings``: the key's tenant's settings, ISO 8601 durations, problems naming the field;
and the settings at work in conversation status, session status and the scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.api.client import LINE, START, ApiWorld
from tests.support.outbox import timed
from wawindow.adapters.db.due_store import SqlScheduler
from wawindow.domain.facts import InboundMessage
from wawindow.domain.identity import Identity
from wawindow.service.scheduler import SchedulerJob

ALICE = Identity.of(wa_id="16505551234", name="Alice")
DEFAULTS = {
    "inactive_after": "PT30M",
    "window_expiring_leads": ["PT1H"],
    "lead_unanswered_warning": "PT2H",
    "send_margin": "PT1M",
}


@pytest.fixture
def world(db_url: str) -> Iterator[ApiWorld]:
    with ApiWorld.open(db_url) as world:
        yield world


def patch(world: ApiWorld, body: Any, key: str | None = None) -> Any:
    return world.request("PATCH", "/v1/settings", key, json=body)


def fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


def test_a_new_tenant_has_the_defaults(world: ApiWorld) -> None:
    response = world.get("/v1/settings")
    assert response.status_code == 200
    assert response.json() == DEFAULTS


def test_patch_changes_what_it_names_and_keeps_the_rest(world: ApiWorld) -> None:
    response = patch(world, {"inactive_after": "PT10M", "window_expiring_leads": ["PT15M", "PT2H"]})
    assert response.status_code == 200, response.text
    expected = {**DEFAULTS, "inactive_after": "PT10M", "window_expiring_leads": ["PT2H", "PT15M"]}
    assert response.json() == expected
    assert world.get("/v1/settings").json() == expected

    response = patch(world, {"send_margin": "PT0S"})
    assert response.json() == {**expected, "send_margin": "PT0S"}


def test_null_restores_a_default_and_an_empty_list_turns_warnings_off(world: ApiWorld) -> None:
    patch(world, {"inactive_after": "PT10M"})
    response = patch(world, {"inactive_after": None, "window_expiring_leads": []})
    assert response.json() == {**DEFAULTS, "window_expiring_leads": []}


def test_settings_belong_to_the_keys_tenant(world: ApiWorld) -> None:
    patch(world, {"inactive_after": "PT5M"})
    assert world.get("/v1/settings", key=world.theirs.key).json() == DEFAULTS
    assert world.get("/v1/settings", key="").status_code == 401
    assert patch(world, {"inactive_after": "PT5M"}, key="ww_nope").status_code == 401


def test_a_duration_not_in_iso_8601_names_its_field(world: ApiWorld) -> None:
    response = patch(world, {"inactive_after": "30m", "window_expiring_leads": ["PT1H", "soon"]})
    assert fields(response) == ["body.inactive_after", "body.window_expiring_leads.1"]
    assert "soon" not in response.text  # a problem never echoes the input


def test_values_out_of_bounds_name_their_field(world: ApiWorld) -> None:
    response = patch(world, {"inactive_after": "PT30S", "send_margin": "PT11M"})
    assert fields(response) == ["body.inactive_after", "body.send_margin"]
    response = patch(world, {"window_expiring_leads": ["PT1H", "PT24H"]})
    assert fields(response) == ["body.window_expiring_leads.1"]
    response = patch(world, {"lead_unanswered_warning": "P1D"})
    assert fields(response) == ["body.lead_unanswered_warning"]
    assert world.get("/v1/settings").json() == DEFAULTS  # nothing changed


def test_unknown_settings_and_wrong_types_are_refused(world: ApiWorld) -> None:
    assert fields(patch(world, {"inactive": "PT5M"})) == ["body.inactive"]
    assert fields(patch(world, {"window_expiring_leads": "PT1H"})) == ["body.window_expiring_leads"]
    assert fields(patch(world, [1, 2])) == ["body"]


def test_the_openapi_document_describes_settings(world: ApiWorld) -> None:
    document = world.get("/openapi.json").json()
    operations = document["paths"]["/v1/settings"]
    assert set(operations) == {"get", "patch"}
    assert {"200", "401", "422"} <= set(operations["patch"]["responses"])
    assert "SettingsOut" in document["components"]["schemas"]


def test_conversation_status_follows_the_tenants_inactive_after(world: ApiWorld) -> None:
    world.ingest(InboundMessage(LINE, "wamid.1", START, ALICE, "text"))
    world.now = START + timedelta(minutes=15)
    assert world.get("/v1/conversations").json()["items"][0]["status"] == "active"

    patch(world, {"inactive_after": "PT10M"})

    (item,) = world.get("/v1/conversations").json()["items"]
    assert item["status"] == "inactive"
    assert world.get("/v1/conversations", status="inactive").json()["total"] == 1
    assert world.get(f"/v1/conversations/{item['id']}").json()["status"] == "inactive"


def test_session_status_follows_the_tenants_send_margin(world: ApiWorld) -> None:
    world.ingest(InboundMessage(LINE, "wamid.1", START, ALICE, "text"))
    world.now = START + timedelta(hours=23, minutes=55)  # five minutes left

    def can_send() -> bool:
        query = {"phone_number_id": LINE, "contact_phone": "+16505551234"}
        document = world.get("/v1/session-status", **query).json()
        return bool(document["can_send"]["free_form"])

    assert can_send()
    patch(world, {"send_margin": "PT10M"})
    assert not can_send()


def test_the_scheduler_agrees_with_the_api_on_when_a_conversation_ends(world: ApiWorld) -> None:
    world.ingest(InboundMessage(LINE, "wamid.1", START, ALICE, "text"))
    job = SchedulerJob(SqlScheduler(world.services.engine))
    end = START + timedelta(hours=24)

    def api_status() -> str:
        status: str = world.get("/v1/conversations").json()["items"][0]["status"]
        return status

    world.now = end - timedelta(seconds=1)
    job.tick(world.now)
    assert api_status() == "inactive"
    assert "conversation.ended" not in {e.type for e in timed(world.services.engine)}

    world.now = end
    job.tick(world.now)
    assert api_status() == "ended"
    (ended,) = [e for e in timed(world.services.engine) if e.type == "conversation.ended"]
    shown = world.get(f"/v1/conversations/{ended.data['conversation']['id']}").json()
    assert ended.occurred_at == end
    assert ended.data["conversation"]["status"] == shown["status"] == "ended"
    assert ended.data["conversation"]["ended_at"] == "2026-03-11T12:00:00Z"
    assert shown["ended_at"] == "2026-03-11T12:00:00Z"
    assert ended.data["conversation"]["ended_reason"] == shown["ended_reason"] == "timeout"


def test_the_scheduler_and_the_api_agree_on_inactivity_under_tenant_settings(
    world: ApiWorld,
) -> None:
    patch(world, {"inactive_after": "PT10M"})
    world.ingest(InboundMessage(LINE, "wamid.1", START, ALICE, "text"))
    job = SchedulerJob(SqlScheduler(world.services.engine))

    world.now = START + timedelta(minutes=10) - timedelta(seconds=1)
    job.tick(world.now)
    assert timed(world.services.engine) == []
    assert world.get("/v1/conversations").json()["items"][0]["status"] == "active"

    world.now = START + timedelta(minutes=10)
    job.tick(world.now)
    (inactive,) = timed(world.services.engine)
    assert inactive.type == "conversation.inactive"
    assert world.get("/v1/conversations").json()["items"][0]["status"] == "inactive"
    assert inactive.data["conversation"]["status"] == "inactive"
