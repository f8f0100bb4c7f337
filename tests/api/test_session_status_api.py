"""``/v1/session-status``: window countdown, free entry point, conversation, what may be sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.api.client import LINE, OTHER_LINE, START, ApiWorld
from wawindow.adapters.db import schema as t
from wawindow.domain.facts import InboundMessage, OutboundMessage, Referral
from wawindow.domain.identity import Identity
from wawindow.entrypoints.api import session_status as session_status_api
from wawindow.entrypoints.api.problems import install_problem_handlers
from wawindow.service.tenants import LineSpec, add_line

WA_ID, BSUID = "27821234567", "ZA.13491208655302741918"
USER = Identity.of(wa_id=WA_ID, bsuid=BSUID, name="Thandi")
STATUS = "/v1/session-status"
SECOND_LINE = "555000222"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}") as opened:
        yield opened


def _at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def _ok(world: ApiWorld, **params: str) -> dict[str, Any]:
    response = world.get(STATUS, **{"phone_number_id": LINE, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _fields(response: Any, status: int = 422) -> list[str]:
    return [error["field"] for error in _problem(response, status)["errors"]]


def _template(world: ApiWorld, name: str, status: str, line: str = LINE, **extra: Any) -> None:
    tenant = world.mine.id if line != OTHER_LINE else world.theirs.id
    row = {
        "tenant_id": tenant,
        "line": line,
        "name": name,
        "language": "en_US",
        "template_id": f"tpl-{name}",
        "category": "utility",
        "status": status,
        "body": "Hello {{1}}, your order {{2}} shipped",
        "param_count": 2,
        "param_names": [],
        "updated_at": START,
        **extra,
    }
    with world.services.engine.begin() as connection:
        connection.execute(t.templates.insert().values(**row))


# --------------------------------------------------------------------------- the window


def test_an_open_window_counts_down_with_the_clock(world: ApiWorld) -> None:
    world.ingest(InboundMessage(LINE, "wamid.1", _at(-10), USER, "text"))
    status = _ok(world, contact_phone="+27 82 123 4567")
    assert status["window_active"] is True
    assert status["last_inbound_at"] == "2026-03-10T11:50:00Z"
    assert status["expires_at"] == "2026-03-11T11:50:00Z"
    assert status["as_of"] == "2026-03-10T12:00:00Z"
    assert status["remaining_seconds"] == (24 * 60 - 10) * 60
    assert status["remaining_minutes"] == 24 * 60 - 10
    assert status["can_send"] == {"free_form": True, "template": True}
    assert status["templates"] == []
    assert status["free_entry_point"] is None
    conversation = status["conversation"]
    assert conversation["status"] == "active"
    assert conversation["messages_count"] == 1
    assert conversation["started_at"] == "2026-03-10T11:50:00Z"
    assert conversation["ended_at"] is None

    world.now = _at(50.5)  # an hour later: less time left, the conversation has gone quiet
    later = _ok(world, contact_phone=WA_ID)
    assert later["remaining_seconds"] == (24 * 60 - 60) * 60 - 30
    assert later["remaining_minutes"] == 24 * 60 - 61  # whole minutes, rounded down
    assert later["conversation"]["status"] == "inactive"


def test_the_window_closes_with_a_margin_for_free_form(world: ApiWorld) -> None:
    world.ingest(InboundMessage(LINE, "wamid.1", _at(0), USER, "text"))
    _template(world, "order_update", "APPROVED", body="Hi {{1}}", param_count=1)
    _template(world, "flagged_one", "flagged")  # still sendable
    _template(world, "paused_one", "PAUSED")
    _template(world, "order_update", "APPROVED", line=OTHER_LINE)  # another tenant's line

    world.now = _at(24 * 60) - timedelta(seconds=30)  # 30 s left: open, but not for a send
    closing = _ok(world, contact_bsuid=BSUID)
    assert closing["window_active"] is True
    assert closing["remaining_seconds"] == 30
    assert closing["remaining_minutes"] == 0
    assert closing["can_send"] == {"free_form": False, "template": True}
    assert closing["templates"] == [
        {
            "id": "tpl-flagged_one",
            "name": "flagged_one",
            "language": "en_US",
            "category": "utility",
            "body": "Hello {{1}}, your order {{2}} shipped",
            "param_count": 2,
        },
        {
            "id": "tpl-order_update",
            "name": "order_update",
            "language": "en_US",
            "category": "utility",
            "body": "Hi {{1}}",
            "param_count": 1,
        },
    ]

    world.now = _at(24 * 60)
    closed = _ok(world, contact_bsuid=BSUID)
    assert closed["window_active"] is False
    assert closed["remaining_seconds"] == closed["remaining_minutes"] == 0
    assert closed["expires_at"] == "2026-03-11T12:00:00Z"  # when it ended
    assert [t["name"] for t in closed["templates"]] == ["flagged_one", "order_update"]
    assert closed["conversation"]["status"] == "ended"
    assert closed["conversation"]["ended_reason"] == "timeout"
    assert closed["conversation"]["ended_at"] == "2026-03-11T12:00:00Z"

    # The user writes again: a new window and a new conversation.
    world.ingest(InboundMessage(LINE, "wamid.2", world.now + timedelta(hours=1), USER, "text"))
    world.now += timedelta(hours=1)
    reopened = _ok(world, contact_bsuid=BSUID)
    assert reopened["window_active"] is True
    assert reopened["templates"] == []
    assert reopened["conversation"]["id"] != closed["conversation"]["id"]
    assert reopened["conversation"]["status"] == "active"


def test_a_free_entry_point_opens_at_the_reply(world: ApiWorld) -> None:
    ad = Referral(source_type="ad", source_id="AD1", source_url="https://fb.me/x")
    world.ingest(InboundMessage(LINE, "wamid.1", _at(-120), USER, "text", referral=ad))
    before = _ok(world, contact_phone=WA_ID)
    assert before["free_entry_point"] is None  # a lead, not yet answered
    world.ingest(OutboundMessage(LINE, "wamid.out", _at(-60), USER, "text"))
    status = _ok(world, contact_phone=WA_ID)
    assert status["free_entry_point"] == {
        "active": True,
        "opened_at": "2026-03-10T11:00:00Z",
        "expires_at": "2026-03-13T11:00:00Z",
    }
    assert status["conversation"]["messages_count"] == 2
    world.now = _at(72 * 60)
    expired = _ok(world, contact_phone=WA_ID)
    assert expired["free_entry_point"]["active"] is False
    assert expired["window_active"] is False


# --------------------------------------------------------------------------- the contact


def test_every_selector_names_the_same_contact(world: ApiWorld) -> None:
    created = world.post("/v1/contacts", {"phone": WA_ID, "external_ref": "customer_12345"})
    contact_id = created.json()["id"]
    world.ingest(InboundMessage(LINE, "wamid.1", _at(-5), USER, "text"))
    for selector in (
        {"contact_phone": "+27821234567"},
        {"contact_phone": "0027 82 123 4567"},
        {"contact_bsuid": BSUID},
        {"customer_id": "customer_12345"},
        {"contact_id": contact_id},
    ):
        status = _ok(world, **selector)
        assert status["contact_id"] == contact_id, selector
        assert status["window_active"] is True, selector
        assert status["phone_number_id"] == LINE


def test_a_known_contact_that_never_wrote_gets_a_closed_window(world: ApiWorld) -> None:
    _template(world, "welcome", "APPROVED")
    world.post("/v1/contacts", {"phone": WA_ID, "external_ref": "customer_12345"})
    status = _ok(world, customer_id="customer_12345")
    assert status["window_active"] is False
    assert status["last_inbound_at"] is None
    assert status["expires_at"] is None
    assert status["remaining_seconds"] == status["remaining_minutes"] == 0
    assert status["free_entry_point"] is None
    assert status["conversation"] is None
    assert status["can_send"] == {"free_form": False, "template": True}
    assert [t["name"] for t in status["templates"]] == ["welcome"]


def test_a_thread_with_another_line_says_nothing_about_this_one(world: ApiWorld) -> None:
    with world.services.tenant_store() as store:
        add_line(store, LineSpec(world.mine.id, SECOND_LINE, "s", "v"), START)
    world.ingest(InboundMessage(SECOND_LINE, "wamid.1", _at(-5), USER, "text"))
    assert _ok(world, contact_phone=WA_ID)["window_active"] is False
    on_second = world.get(STATUS, phone_number_id=SECOND_LINE, contact_phone=WA_ID).json()
    assert on_second["window_active"] is True


# --------------------------------------------------------------------------- errors


def test_unknown_contacts_and_lines_are_404_problems(world: ApiWorld) -> None:
    world.ingest(InboundMessage(LINE, "wamid.1", _at(-5), USER, "text"))
    unknown = world.get(STATUS, phone_number_id=LINE, contact_phone="+16505551234")
    assert _fields(unknown, 404) == ["query.contact_phone"]
    assert _fields(world.get(STATUS, phone_number_id=LINE, contact_id="ct_x"), 404) == [
        "query.contact_id"
    ]
    assert _fields(world.get(STATUS, phone_number_id=LINE, customer_id="nobody"), 404) == [
        "query.customer_id"
    ]
    no_line = world.get(STATUS, phone_number_id="123", contact_phone=WA_ID)
    assert _fields(no_line, 404) == ["query.phone_number_id"]
    # Neither the line nor the contact: the line is named.
    neither = world.get(STATUS, phone_number_id="123", contact_phone="+16505551234")
    assert _fields(neither, 404) == ["query.phone_number_id"]


def test_another_tenant_sees_nothing(world: ApiWorld) -> None:
    world.ingest(InboundMessage(LINE, "wamid.1", _at(-5), USER, "text"))
    contact_id = _ok(world, contact_phone=WA_ID)["contact_id"]
    theirs = world.theirs.key
    # My line with their key; their line with my key; my contact on their line.
    mine_line = world.get(STATUS, key=theirs, phone_number_id=LINE, contact_phone=WA_ID)
    assert _fields(mine_line, 404) == ["query.phone_number_id"]
    their_line = world.get(STATUS, phone_number_id=OTHER_LINE, contact_phone=WA_ID)
    assert _fields(their_line, 404) == ["query.phone_number_id"]
    for selector in (
        {"contact_id": contact_id},
        {"contact_phone": WA_ID},
        {"contact_bsuid": BSUID},
    ):
        response = world.get(STATUS, key=theirs, phone_number_id=OTHER_LINE, **selector)
        assert response.status_code == 404, selector
    _problem(world.get(STATUS, key="", phone_number_id=LINE, contact_phone=WA_ID), 401)


def test_selectors_and_values_are_validated(world: ApiWorld) -> None:
    selectors = ["contact_phone", "contact_bsuid", "customer_id", "contact_id"]
    none = world.get(STATUS, phone_number_id=LINE)
    assert _fields(none) == [f"query.{name}" for name in selectors]
    two = world.get(STATUS, phone_number_id=LINE, contact_phone=WA_ID, contact_id="ct_1")
    assert _fields(two) == ["query.contact_phone", "query.contact_id"]
    assert _fields(world.get(STATUS, contact_phone=WA_ID)) == ["query.phone_number_id"]
    bad_phone = world.get(STATUS, phone_number_id=LINE, contact_phone="+27 82")
    assert _fields(bad_phone) == ["query.contact_phone"]
    bad_bsuid = world.get(STATUS, phone_number_id=LINE, contact_bsuid="not-a-bsuid")
    assert _fields(bad_bsuid) == ["query.contact_bsuid"]


def test_the_direct_route_answers_as_fastapis_own_dispatch_would(world: ApiWorld) -> None:
    """The route skips FastAPI's per-request dependency solving (``direct_route``); the same
    endpoint dispatched by FastAPI itself must give the same status, type and body."""
    _template(world, "order_update", "APPROVED")
    world.ingest(InboundMessage(LINE, "wamid.1", _at(-10), USER, "text"))
    twin = FastAPI()
    twin.state.services = world.services
    install_problem_handlers(twin)
    twin.add_api_route(STATUS, session_status_api.status, methods=["GET"])
    key = world.mine.key
    cases: list[tuple[dict[str, str], dict[str, str]]] = [
        ({"phone_number_id": LINE, "contact_phone": "+27 82 123 4567"}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "contact_bsuid": BSUID}, {"Authorization": f"Bearer {key}"}),
        ({"phone_number_id": LINE, "contact_phone": WA_ID}, {"authorization": f"bearer  {key} "}),
        (
            {"phone_number_id": LINE, "contact_phone": WA_ID},
            {"X-API-Key": "", "Authorization": f"Bearer {key}"},
        ),
        ({"phone_number_id": LINE, "contact_phone": WA_ID, "other": "x"}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "customer_id": "nobody"}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "contact_id": "ct_x"}, {"X-API-Key": key}),
        ({"phone_number_id": "123", "contact_phone": WA_ID}, {"X-API-Key": key}),
        ({"phone_number_id": LINE}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "contact_phone": WA_ID, "contact_id": "c"}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "contact_phone": "+27 82"}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "contact_bsuid": "not-a-bsuid"}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "customer_id": "a\x00b"}, {"X-API-Key": key}),
        ({"contact_phone": WA_ID}, {"X-API-Key": key}),
        ({}, {"X-API-Key": key}),
        ({"phone_number_id": LINE, "contact_phone": WA_ID}, {}),
        ({"phone_number_id": LINE, "contact_phone": WA_ID}, {"X-API-Key": "ww_unknown"}),
        ({"phone_number_id": LINE, "contact_phone": WA_ID}, {"Authorization": f"Basic {key}"}),
        ({"phone_number_id": LINE, "contact_phone": WA_ID}, {"Authorization": "Bearer "}),
        ({"phone_number_id": LINE}, {}),
    ]
    direct, seen = world.app, list[int]()
    for params, headers in cases:
        answers = []
        for app in (direct, twin):
            world.app = app
            response = world.request("GET", STATUS, "", params=params, headers=headers)
            answers.append(
                (response.status_code, response.headers["content-type"], response.json())
            )
        world.app = direct
        assert answers[0] == answers[1], (params, headers)
        seen.append(answers[0][0])
    assert seen[:5] == [200] * 5
    assert seen[5:] == [404] * 3 + [422] * 7 + [401] * 5


def test_the_openapi_document_describes_every_answer(world: ApiWorld) -> None:
    document = world.get("/openapi.json").json()
    responses = document["paths"][STATUS]["get"]["responses"]
    assert set(responses) >= {"200", "401", "404", "422"}
    schema = document["components"]["schemas"]["SessionStatusOut"]["properties"]
    assert set(schema) >= {
        "window_active",
        "last_inbound_at",
        "expires_at",
        "remaining_minutes",
        "remaining_seconds",
        "free_entry_point",
        "conversation",
        "can_send",
        "templates",
    }


# --------------------------------------------------------------------------- both databases


def test_session_status_on_every_database(db_url: str) -> None:
    with ApiWorld.open(db_url) as world:
        _template(world, "order_update", "APPROVED")
        world.ingest(InboundMessage(LINE, "wamid.1", _at(-10), USER, "text"))
        status = _ok(world, contact_bsuid=BSUID)
        assert status["remaining_minutes"] == 24 * 60 - 10
        assert status["conversation"]["status"] == "active"
        world.now = _at(24 * 60)
        closed = _ok(world, contact_phone=WA_ID)
        assert closed["window_active"] is False
        assert [t["name"] for t in closed["templates"]] == ["order_update"]
        theirs = world.get(STATUS, key=world.theirs.key, phone_number_id=LINE, contact_phone=WA_ID)
        _problem(theirs, 404)
        for selector in ({"customer_id": "a\x00b"}, {"contact_id": "ct\x00"}):
            response = world.get(STATUS, phone_number_id=LINE, **selector)
            assert _fields(response) == [f"query.{next(iter(selector))}"]
        assert _fields(world.get(STATUS, phone_number_id="1\x00", contact_phone=WA_ID)) == [
            "query.phone_number_id"
        ]
