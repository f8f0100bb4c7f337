"""``/v1/templates``: list, add, change; validation as problems; tenant isolation; webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.client import LINE, OTHER_LINE, START, ApiWorld
from wawindow.adapters.meta.payload import parse_webhook

WABA = "102290129340398"
ORDER_UPDATE = {
    "phone_number_id": LINE,
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "body": "Hi {{1}}, your order {{2}} has shipped.",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}") as world:
        yield world


def patch(world: ApiWorld, path: str, body: Any, key: str | None = None) -> httpx.Response:
    return world.request("PATCH", path, key, json=body)


def fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json().get("errors", [])]


def test_add_a_template_counts_its_parameters(world: ApiWorld) -> None:
    response = world.post("/v1/templates", ORDER_UPDATE)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "phone_number_id": LINE,
        "name": "order_update",
        "language": "en_US",
        "category": "utility",
        "status": "APPROVED",
        "status_reason": None,
        "quality": None,
        "body": "Hi {{1}}, your order {{2}} has shipped.",
        "param_count": 2,
        "param_names": [],
        "template_id": None,
        "sendable": True,
        "updated_at": "2026-03-10T12:00:00Z",
    }


def test_named_parameters_status_and_language_spellings(world: ApiWorld) -> None:
    body = {
        **ORDER_UPDATE,
        "language": "pt-br",
        "body": "Olá {{first_name}}, pedido {{order}} ({{first_name}})",
        "status": "paused",
        "template_id": "1689556908129832",
    }
    created = world.post("/v1/templates", body).json()
    assert (created["language"], created["status"], created["sendable"]) == (
        "pt_BR",
        "PAUSED",
        False,
    )
    assert (created["param_count"], created["param_names"]) == (2, ["first_name", "order"])
    assert created["template_id"] == "1689556908129832"


def test_list_and_filter(world: ApiWorld) -> None:
    world.post("/v1/templates", ORDER_UPDATE)
    world.post("/v1/templates", {**ORDER_UPDATE, "language": "es", "status": "REJECTED"})
    world.post("/v1/templates", {**ORDER_UPDATE, "name": "welcome", "category": "marketing"})

    listing = world.get("/v1/templates").json()
    assert listing["total"] == 3
    names = [(item["name"], item["language"]) for item in listing["items"]]
    assert names == [("order_update", "en_US"), ("order_update", "es"), ("welcome", "en_US")]

    def names_of(**params: Any) -> list[tuple[str, str]]:
        response = world.get("/v1/templates", **params)
        assert response.status_code == 200, response.text
        return [(item["name"], item["language"]) for item in response.json()["items"]]

    assert names_of(status="rejected") == [("order_update", "es")]
    assert names_of(name="welcome") == [("welcome", "en_US")]
    assert names_of(phone_number_id=LINE, category="MARKETING") == [("welcome", "en_US")]
    assert names_of(language="en-us", name="order_update") == [("order_update", "en_US")]
    assert names_of(status="UNKNOWN") == []
    page = world.get("/v1/templates", page=2, page_size=2).json()
    assert (page["total"], len(page["items"]), page["page"]) == (3, 1, 2)


def test_get_one_template(world: ApiWorld) -> None:
    world.post("/v1/templates", ORDER_UPDATE)
    found = world.get(f"/v1/templates/{LINE}/order_update/en-US")
    assert found.status_code == 200
    assert found.json()["param_count"] == 2
    missing = world.get(f"/v1/templates/{LINE}/order_update/fr")
    assert missing.status_code == 404
    assert fields(missing) == ["path.name"]


def test_the_same_name_and_language_twice_is_a_conflict(world: ApiWorld) -> None:
    world.post("/v1/templates", ORDER_UPDATE)
    again = world.post("/v1/templates", {**ORDER_UPDATE, "language": "en-us", "body": "Other"})
    assert again.status_code == 409
    assert again.json()["type"] == "https://wawindow.dev/problems/template_exists"
    assert fields(again) == ["body.name"]


def test_change_category_body_and_status(world: ApiWorld) -> None:
    world.post("/v1/templates", ORDER_UPDATE)
    world.now = START + timedelta(minutes=5)
    path = f"/v1/templates/{LINE}/order_update/en_US"
    response = patch(world, path, {"body": "Hello {{name}}", "category": "marketing"})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["body"], changed["param_count"], changed["param_names"]) == (
        "Hello {{name}}",
        1,
        ["name"],
    )
    assert (changed["category"], changed["status"]) == ("marketing", "APPROVED")
    assert changed["updated_at"] == "2026-03-10T12:05:00Z"

    paused = patch(world, path, {"status": "PAUSED"}).json()
    assert (paused["status"], paused["sendable"], paused["body"]) == (
        "PAUSED",
        False,
        "Hello {{name}}",
    )
    assert world.get("/v1/templates", status="PAUSED").json()["total"] == 1
    unchanged = patch(world, path, {})
    assert unchanged.json() == paused


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Order Update"}, "body.name"),
        ({"language": "english!"}, "body.language"),
        ({"category": "service"}, "body.category"),
        ({"status": "SHINY"}, "body.status"),
        ({"status": "LOCKED"}, "body.status"),
        ({"status": 3}, "body.status"),
        ({"body": ""}, "body.body"),
        ({"body": "x" * 1025}, "body.body"),
        ({"template_id": "abc"}, "body.template_id"),
        ({"phone_number_id": ""}, "body.phone_number_id"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    world: ApiWorld, change: dict[str, Any], field: str
) -> None:
    response = world.post("/v1/templates", {**ORDER_UPDATE, **change})
    assert response.status_code == 422
    assert fields(response) == [field]


def test_missing_fields_are_named(world: ApiWorld) -> None:
    response = world.post("/v1/templates", {"phone_number_id": LINE, "name": "x"})
    assert response.status_code == 422
    assert set(fields(response)) == {"body.language", "body.category", "body.body"}


def test_bad_patch_and_bad_filters_name_the_field(world: ApiWorld) -> None:
    world.post("/v1/templates", ORDER_UPDATE)
    path = f"/v1/templates/{LINE}/order_update/en_US"
    assert fields(patch(world, path, {"status": "nope"})) == ["body.status"]
    assert fields(patch(world, path, {"category": "x"})) == ["body.category"]
    assert fields(world.get("/v1/templates", status="SHINY")) == ["query.status"]
    assert fields(world.get("/v1/templates", page=0)) == ["query.page"]


def test_another_tenants_lines_and_templates_are_not_found(world: ApiWorld) -> None:
    theirs = world.theirs.key
    mine_added = world.post("/v1/templates", ORDER_UPDATE)
    assert mine_added.status_code == 201
    their_template = {**ORDER_UPDATE, "phone_number_id": OTHER_LINE}
    assert world.post("/v1/templates", their_template, key=theirs).status_code == 201

    on_their_line = world.post("/v1/templates", their_template)
    assert on_their_line.status_code == 404
    assert fields(on_their_line) == ["body.phone_number_id"]
    unknown_line = world.post("/v1/templates", {**ORDER_UPDATE, "phone_number_id": "123"})
    assert unknown_line.status_code == 404

    their_path = f"/v1/templates/{OTHER_LINE}/order_update/en_US"
    assert patch(world, their_path, {"status": "PAUSED"}).status_code == 404
    assert world.get(their_path).status_code == 404
    listing = world.get("/v1/templates", phone_number_id=OTHER_LINE)
    assert listing.status_code == 404
    assert fields(listing) == ["query.phone_number_id"]

    their_listing = world.get("/v1/templates", key=theirs).json()
    assert [item["phone_number_id"] for item in their_listing["items"]] == [OTHER_LINE]
    my_path = f"/v1/templates/{LINE}/order_update/en_US"
    assert patch(world, my_path, {"status": "PAUSED"}, key=theirs).status_code == 404
    assert world.get(my_path).json()["status"] == "APPROVED"


def test_no_key_is_401(world: ApiWorld) -> None:
    assert world.get("/v1/templates", key="").status_code == 401
    assert world.post("/v1/templates", ORDER_UPDATE, key="").status_code == 401
    path = f"/v1/templates/{LINE}/order_update/en_US"
    assert patch(world, path, {"status": "PAUSED"}, key="wrong").status_code == 401


def _webhook(entry: dict[str, Any]) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def _receive(world: ApiWorld, body: bytes) -> None:
    parsed = parse_webhook(body)
    services = world.services
    with services.ingest_store() as store:
        services.ingestor.ingest(store, "meta", body, parsed.facts, parsed.accounts, world.now)


def test_template_webhooks_keep_the_registry_current(world: ApiWorld) -> None:
    world.post("/v1/templates", ORDER_UPDATE)
    message = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": LINE},
        "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
        "messages": [
            {"from": "16505551234", "id": "wamid.1", "timestamp": "1773140000", "type": "text"}
        ],
    }
    _receive(world, _webhook({"id": WABA, "changes": [{"field": "messages", "value": message}]}))
    at = int((START + timedelta(minutes=1)).timestamp())
    status = {
        "event": "PAUSED",
        "message_template_id": 1689556908129832,
        "message_template_name": "order_update",
        "message_template_language": "en_US",
        "reason": "LOW_QUALITY",
        "message_template_category": "UTILITY",
    }
    change = {"field": "message_template_status_update", "value": status}
    _receive(world, _webhook({"id": WABA, "time": at, "changes": [change]}))

    row = world.get(f"/v1/templates/{LINE}/order_update/en_US").json()
    assert (row["status"], row["status_reason"], row["sendable"]) == (
        "PAUSED",
        "LOW_QUALITY",
        False,
    )
    assert (row["template_id"], row["param_count"]) == ("1689556908129832", 2)
    assert row["updated_at"] == "2026-03-10T12:01:00Z"


def test_the_openapi_document_describes_the_endpoints(world: ApiWorld) -> None:
    document = world.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/v1/templates"]) == {"get", "post"}
    assert set(paths["/v1/templates/{phone_number_id}/{name}/{language}"]) == {"get", "patch"}
    post = paths["/v1/templates"]["post"]
    assert {"201", "404", "409", "422"} <= set(post["responses"])
    schemas = document["components"]["schemas"]
    assert "LOCKED" not in schemas["TemplateStatusIn"]["enum"]
    assert schemas["RegistryTemplate"]["required"]


def test_pages_are_bounded_as_on_every_list(world: ApiWorld) -> None:
    response = world.get("/v1/templates", page=str(2**63))
    assert fields(response) == ["query.page"]
    assert world.get("/v1/templates", page="1000000").json()["items"] == []
