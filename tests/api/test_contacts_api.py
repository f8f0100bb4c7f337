"""``/v1/contacts``: upsert by any identifier, find by one, merged ids, conflicts, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.api.client import LINE, ApiWorld
from wawindow.adapters.db import schema as t
from wawindow.domain.facts import IdentityObserved, InboundMessage
from wawindow.domain.identity import Identity

PHONE, WA_ID = "+27 82 123 4567", "27821234567"
BSUID = "ZA.13491208655302741918"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}") as opened:
        yield opened


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _fields(response: Any, status: int = 422) -> list[str]:
    return [error["field"] for error in _problem(response, status)["errors"]]


def _contacts(world: ApiWorld) -> int:
    with world.services.engine.connect() as connection:
        query = select(func.count()).select_from(t.contacts)
        return int(connection.execute(query).scalar_one())


def _create(world: ApiWorld, **body: str) -> dict[str, Any]:
    response = world.post("/v1/contacts", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --------------------------------------------------------------------------- upsert


def test_a_post_creates_then_updates_the_same_contact(world: ApiWorld) -> None:
    created = _create(world, phone=PHONE, external_ref="customer_12345", name="Thandi")
    assert created["phone"] == "+27821234567"
    assert created["external_ref"] == "customer_12345"
    assert created["name"] == "Thandi"
    assert created["identifiers"] == [
        {"kind": "external_ref", "value": "customer_12345"},
        {"kind": "wa_id", "value": WA_ID},
    ]
    assert created["threads"] == []

    again = world.post("/v1/contacts", {"external_ref": "customer_12345", "bsuid": BSUID})
    assert again.status_code == 200
    updated = again.json()
    assert updated["id"] == created["id"]
    assert updated["bsuid"] == BSUID
    assert {"kind": "bsuid", "value": BSUID} in updated["identifiers"]
    assert updated["name"] == "Thandi"  # not given: kept
    renamed = world.post("/v1/contacts", {"phone": WA_ID, "name": "Thandi M."}).json()
    assert renamed["id"] == created["id"]
    assert renamed["name"] == "Thandi M."
    assert _contacts(world) == 1


def test_every_kind_of_identifier_is_stored(world: ApiWorld) -> None:
    created = _create(world, username="thandi", provider_id="Channel360:5f1c0a", external_ref="c-9")
    assert created["phone"] is None
    assert created["username"] == "thandi"
    assert {"kind": "provider", "value": "channel360:5f1c0a"} in created["identifiers"]
    same = world.post(
        "/v1/contacts", {"provider_id": "channel360:5f1c0a", "phone": "0027821234567"}
    )
    assert same.status_code == 200
    assert same.json()["id"] == created["id"]
    assert same.json()["phone"] == "+27821234567"


def test_the_stored_reference_finds_the_user_who_writes_later(world: ApiWorld) -> None:
    """Channel360's pattern: customer_12345 ↔ +27821234567 before any message."""
    created = _create(world, phone="+27821234567", external_ref="customer_12345")
    wrote_at = world.now - timedelta(minutes=10)
    user = Identity.of(wa_id=WA_ID, bsuid=BSUID, name="Thandi")
    world.ingest(InboundMessage(LINE, "wamid.1", wrote_at, user, "text"))
    assert _contacts(world) == 1

    found = world.get("/v1/contacts", external_ref="customer_12345").json()["items"]
    assert [c["id"] for c in found] == [created["id"]]
    assert found[0]["name"] == "Thandi"  # the profile name the webhook carried
    assert found[0]["bsuid"] == BSUID  # linked by the webhook
    assert found[0]["threads"] == [
        {
            "phone_number_id": LINE,
            "last_inbound_at": "2026-03-10T11:50:00Z",
            "window_open": True,
            "window_expires_at": "2026-03-11T11:50:00Z",
        }
    ]
    # Later the number is hidden: only the BSUID names the user, and still the same contact.
    hidden = Identity.of(bsuid=BSUID)
    world.ingest(InboundMessage(LINE, "wamid.2", world.now, hidden, "text"))
    by_ref = world.get("/v1/contacts", external_ref="customer_12345").json()["items"][0]
    assert by_ref["id"] == created["id"]
    assert by_ref["threads"][0]["last_inbound_at"] == "2026-03-10T12:00:00Z"
    world.now += timedelta(hours=25)
    later = world.get(f"/v1/contacts/{created['id']}").json()
    assert later["threads"][0]["window_open"] is False


def test_identifiers_of_two_contacts_are_a_conflict_never_a_merge(world: ApiWorld) -> None:
    first = _create(world, phone=PHONE)
    second = _create(world, external_ref="customer_12345")
    response = world.post("/v1/contacts", {"phone": PHONE, "external_ref": "customer_12345"})
    problem = _problem(response, 409)
    assert problem["type"].endswith("/contact_conflict")
    assert first["id"] in problem["detail"]
    assert second["id"] in problem["detail"]
    owners = {c["id"]: c["identifiers"] for c in problem["contacts"]}
    assert owners == {
        first["id"]: [{"kind": "wa_id", "value": WA_ID}],
        second["id"]: [{"kind": "external_ref", "value": "customer_12345"}],
    }
    assert world.get(f"/v1/contacts/{first['id']}").json()["external_ref"] is None
    assert _contacts(world) == 2


def test_a_new_external_ref_replaces_the_old_one(world: ApiWorld) -> None:
    created = _create(world, phone=PHONE, external_ref="old-ref")
    updated = world.post("/v1/contacts", {"phone": PHONE, "external_ref": "new-ref"}).json()
    assert updated["external_ref"] == "new-ref"
    kinds = [i for i in updated["identifiers"] if i["kind"] == "external_ref"]
    assert kinds == [{"kind": "external_ref", "value": "new-ref"}]
    assert world.get("/v1/contacts", external_ref="old-ref").json()["items"] == []
    assert (
        world.get("/v1/contacts", external_ref="new-ref").json()["items"][0]["id"]
        == (created["id"])
    )
    other = _create(world, bsuid=BSUID, external_ref="old-ref")  # the old one is free again
    assert other["id"] != created["id"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {},
            ["body.phone", "body.bsuid", "body.username", "body.provider_id", "body.external_ref"],
        ),
        ({"name": "Only a name"}, ["body.phone"]),
        ({"phone": "12"}, ["body.phone"]),
        ({"phone": "not a phone"}, ["body.phone"]),
        ({"phone": "0821234567"}, ["body.phone"]),  # national digits, no country code
        ({"bsuid": "13491208655302741918"}, ["body.bsuid"]),
        ({"provider_id": "no-colon"}, ["body.provider_id"]),
        ({"external_ref": "   "}, ["body.external_ref"]),
        ({"external_ref": "x" * 201}, ["body.external_ref"]),
        ({"phone": PHONE, "phone_number": PHONE}, ["body.phone_number"]),
    ],
)
def test_invalid_bodies_are_problems_naming_the_field(
    world: ApiWorld, body: dict[str, str], fields: list[str]
) -> None:
    found = _fields(world.post("/v1/contacts", body))
    assert found[: len(fields)] == fields
    assert _contacts(world) == 0


def test_a_bad_phone_is_explained_without_echoing_it(world: ApiWorld) -> None:
    problem = _problem(world.post("/v1/contacts", {"phone": "+27 82"}), 422)
    message = problem["errors"][0]["message"]
    assert "too short" in message
    assert "+27 82" not in message


# --------------------------------------------------------------------------- find and get


def test_every_filter_finds_the_contact(world: ApiWorld) -> None:
    created = _create(
        world,
        phone=PHONE,
        bsuid=BSUID,
        username="thandi",
        provider_id="sinch:01H",
        external_ref="customer_12345",
    )
    for name, value in (
        ("phone", "+27821234567"),
        ("phone", "27821234567"),
        ("phone", "+27 (82) 123-4567"),
        ("bsuid", BSUID),
        ("username", "thandi"),
        ("provider_id", "SINCH:01H"),
        ("external_ref", "customer_12345"),
    ):
        found = world.get("/v1/contacts", **{name: value})
        assert found.status_code == 200, (name, found.text)
        assert [c["id"] for c in found.json()["items"]] == [created["id"]], name
    assert world.get("/v1/contacts", phone="+27821234568").json() == {"items": []}
    assert world.get("/v1/contacts", username="nobody").json() == {"items": []}


def test_filters_want_exactly_one(world: ApiWorld) -> None:
    names = ["phone", "bsuid", "username", "external_ref", "provider_id"]
    assert _fields(world.get("/v1/contacts")) == [f"query.{name}" for name in names]
    two = world.get("/v1/contacts", phone=PHONE, username="thandi")
    assert _fields(two) == ["query.phone", "query.username"]
    assert _fields(world.get("/v1/contacts", phone="abc")) == ["query.phone"]
    assert _fields(world.get("/v1/contacts", bsuid="ZA-1")) == ["query.bsuid"]


def test_a_merged_away_id_resolves_to_the_survivor(world: ApiWorld) -> None:
    older = _create(world, phone=PHONE, external_ref="customer_12345")
    world.now += timedelta(seconds=1)
    younger = _create(world, bsuid=BSUID)
    # WhatsApp names both together: the contacts are one person (the older one survives).
    both = Identity.of(wa_id=WA_ID, bsuid=BSUID)
    world.ingest(IdentityObserved(LINE, world.now, both))
    merged = world.get(f"/v1/contacts/{younger['id']}")
    assert merged.status_code == 200
    body = merged.json()
    assert body["id"] == older["id"]
    assert body["bsuid"] == BSUID
    assert body["external_ref"] == "customer_12345"
    assert world.get("/v1/contacts", bsuid=BSUID).json()["items"][0]["id"] == older["id"]


def _merge_older_whatsapp_contact_with(world: ApiWorld, **younger: str) -> str:
    """A contact WhatsApp knows by phone number (an hour ago), one posted now with
    ``younger``'s identifiers, then a payload naming the phone number with the BSUID:
    the older contact survives. Its id."""
    user = Identity.of(wa_id=WA_ID)
    world.ingest(InboundMessage(LINE, "wamid.1", world.now - timedelta(hours=1), user, "text"))
    _create(world, bsuid=BSUID, **younger)
    world.ingest(IdentityObserved(LINE, world.now, Identity.of(wa_id=WA_ID, bsuid=BSUID)))
    [survivor] = world.get("/v1/contacts", bsuid=BSUID).json()["items"]
    survivor_id: str = survivor["id"]
    return survivor_id


def _stored_external_ref(world: ApiWorld, contact_id: str) -> str | None:
    with world.services.engine.connect() as connection:
        query = select(t.contacts.c.external_ref).where(t.contacts.c.id == contact_id)
        found: str | None = connection.execute(query).scalar_one()
        return found


def test_a_merge_gives_the_survivor_the_absorbed_contacts_external_ref(db_url: str) -> None:
    with ApiWorld.open(db_url) as world:
        survivor = _merge_older_whatsapp_contact_with(world, external_ref="customer_12345")
        assert _stored_external_ref(world, survivor) == "customer_12345"
        listed = world.get("/v1/conversations", customer_id="customer_12345").json()["items"]
        assert [(c["contact_id"], c["customer_id"]) for c in listed] == [
            (survivor, "customer_12345")
        ]
        status = world.get("/v1/session-status", phone_number_id=LINE, customer_id="customer_12345")
        assert status.json()["contact_id"] == survivor


def test_a_merge_keeps_the_survivors_own_external_ref(world: ApiWorld) -> None:
    _create(world, phone=PHONE, external_ref="customer_1")
    world.now += timedelta(seconds=1)
    _create(world, bsuid=BSUID, external_ref="customer_2")
    world.ingest(IdentityObserved(LINE, world.now, Identity.of(wa_id=WA_ID, bsuid=BSUID)))
    [survivor] = world.get("/v1/contacts", external_ref="customer_2").json()["items"]
    assert survivor["external_ref"] == "customer_1"
    assert _stored_external_ref(world, survivor["id"]) == "customer_1"


def test_an_unknown_id_is_a_404_problem(world: ApiWorld) -> None:
    problem = _problem(world.get("/v1/contacts/ct_nobody"), 404)
    assert problem["errors"] == [{"field": "path.contact_id", "message": problem["detail"]}]


# --------------------------------------------------------------------------- tenants


def test_another_tenants_contacts_do_not_exist(world: ApiWorld) -> None:
    created = _create(world, phone=PHONE, external_ref="customer_12345")
    theirs = world.theirs.key
    _problem(world.get(f"/v1/contacts/{created['id']}", key=theirs), 404)
    assert world.get("/v1/contacts", key=theirs, phone=PHONE).json() == {"items": []}
    assert world.get("/v1/contacts", key=theirs, external_ref="customer_12345").json() == {
        "items": []
    }
    # The same person and reference at another tenant is another contact: no conflict.
    same = world.request(
        "POST", "/v1/contacts", theirs, json={"phone": PHONE, "external_ref": "customer_12345"}
    )
    assert same.status_code == 201
    assert same.json()["id"] != created["id"]
    assert world.get(f"/v1/contacts/{created['id']}").json()["id"] == created["id"]


def test_no_key_or_a_wrong_key_is_401(world: ApiWorld) -> None:
    _problem(world.get("/v1/contacts", key="", phone=PHONE), 401)
    _problem(world.get("/v1/contacts/ct_x", key="ww_wrong"), 401)
    _problem(world.post("/v1/contacts", {"phone": PHONE}, key="ww_wrong"), 401)


def test_the_openapi_document_describes_every_answer(world: ApiWorld) -> None:
    paths = world.get("/openapi.json").json()["paths"]
    post = paths["/v1/contacts"]["post"]["responses"]
    assert set(post) >= {"200", "201", "401", "409", "422"}
    assert "ContactOut" in str(post["201"])
    assert set(paths["/v1/contacts"]["get"]["responses"]) >= {"200", "401", "422"}
    assert set(paths["/v1/contacts/{contact_id}"]["get"]["responses"]) >= {"200", "404", "422"}


# --------------------------------------------------------------------------- both databases


def test_the_correlation_flow_on_every_database(db_url: str) -> None:
    with ApiWorld.open(db_url) as world:
        created = _create(world, phone=PHONE, external_ref="customer_12345")
        world.ingest(InboundMessage(LINE, "wamid.1", world.now, Identity.of(wa_id=WA_ID), "text"))
        found = world.get("/v1/contacts", phone=WA_ID).json()["items"]
        assert [c["id"] for c in found] == [created["id"]]
        assert found[0]["threads"][0]["window_open"] is True
        _create(world, bsuid=BSUID)
        conflict = world.post("/v1/contacts", {"phone": PHONE, "bsuid": BSUID})
        _problem(conflict, 409)
        _problem(world.get(f"/v1/contacts/{created['id']}", key=world.theirs.key), 404)
        # Control characters (PostgreSQL refuses NUL in text) are a 422, never a 500.
        for name in ("username", "external_ref", "provider_id", "name"):
            value = "sinch:a\x00b" if name == "provider_id" else "a\x00b"
            body = {"phone": PHONE, name: value}
            assert _fields(world.post("/v1/contacts", body)) == [f"body.{name}"]
        assert _fields(world.get("/v1/contacts", username="a\x00b")) == ["query.username"]
        assert _fields(world.get("/v1/contacts/ct%00x")) == ["path.contact_id"]
