"""``/v1/webhook-endpoints`` and ``/v1/webhook-deliveries``: subscribe, change, delete,
validation as problems naming the field, another tenant's objects are 404, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.client import START, ApiWorld

HOOK = {"url": "https://example.com/hooks/whatsapp", "events": ["whatsapp.conversation.*"]}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}") as world:
        yield world


def create(world: ApiWorld, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
    response = world.post("/v1/webhook-endpoints", body or HOOK, key)
    assert response.status_code == 201, response.text
    return response.json()


def problem_fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json().get("errors", [])]


def test_subscribing_shows_the_secret_once(world: ApiWorld) -> None:
    made = create(world, {**HOOK, "description": "CRM"})

    assert made["secret"].startswith("whsec_")
    assert made["id"].startswith("ep_")
    assert made["url"] == HOOK["url"]
    assert made["events"] == ["whatsapp.conversation.*"]
    assert made["description"] == "CRM"
    assert made["enabled"] is True
    assert made["created_at"] == made["updated_at"] == "2026-03-10T12:00:00Z"
    shown = world.get(f"/v1/webhook-endpoints/{made['id']}").json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in made.items() if k != "secret"}
    listed = world.get("/v1/webhook-endpoints").json()["items"]
    assert listed == [shown]


def test_the_secret_is_a_standard_webhooks_secret(world: ApiWorld) -> None:
    from standardwebhooks import Webhook

    secret = create(world)["secret"]

    signature = Webhook(secret).sign("msg_1", START, "{}")
    assert signature.startswith("v1,")


def test_patch_changes_only_what_is_given(world: ApiWorld) -> None:
    made = create(world)
    world.now = START.replace(hour=13)

    response = world.request(
        "PATCH",
        f"/v1/webhook-endpoints/{made['id']}",
        json={"events": ["*"], "description": "all of it"},
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["events"] == ["*"]
    assert changed["description"] == "all of it"
    assert changed["url"] == HOOK["url"]
    assert changed["updated_at"] == "2026-03-10T13:00:00Z"


def test_delete_unsubscribes(world: ApiWorld) -> None:
    made = create(world)

    deleted = world.request("DELETE", f"/v1/webhook-endpoints/{made['id']}")

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert world.get(f"/v1/webhook-endpoints/{made['id']}").status_code == 404
    assert world.get("/v1/webhook-endpoints").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HOOK, "url": "ftp://example.com/x"}, "body.url"),
        ({**HOOK, "url": "example.com/x"}, "body.url"),
        ({**HOOK, "url": "https:///no-host"}, "body.url"),
        ({**HOOK, "url": "https://exa mple.com/"}, "body.url"),
        ({**HOOK, "url": "https://example.com:99999/"}, "body.url"),
        ({**HOOK, "url": "https://a..b/"}, "body.url"),
        ({**HOOK, "url": "https://[::1/"}, "body.url"),
        ({**HOOK, "url": ""}, "body.url"),
        ({**HOOK, "events": []}, "body.events"),
        ({**HOOK, "events": ["conversation.created"]}, "body.events.0"),
        ({**HOOK, "events": ["*", "whatsapp.conversation.begun"]}, "body.events.1"),
        ({**HOOK, "events": ["whatsapp.orders.*"]}, "body.events.0"),
        ({**HOOK, "events": "*"}, "body.events"),
        ({"url": HOOK["url"]}, "body.events"),
        ({**HOOK, "description": "x" * 501}, "body.description"),
    ],
)
def test_a_bad_endpoint_is_a_422_naming_the_field(
    world: ApiWorld, body: dict[str, Any], field: str
) -> None:
    response = world.post("/v1/webhook-endpoints", body)

    assert response.status_code == 422, response.text
    assert problem_fields(response) == [field]


def test_a_bad_patch_is_a_422_and_changes_nothing(world: ApiWorld) -> None:
    made = create(world)
    path = f"/v1/webhook-endpoints/{made['id']}"

    response = world.request("PATCH", path, json={"url": "https://ok.example/", "events": ["x"]})

    assert response.status_code == 422
    assert problem_fields(response) == ["body.events.0"]
    assert world.get(path).json()["url"] == HOOK["url"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"description": "mine now"}),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", None),
        ("POST", "/enable", None),
        ("POST", "/test", None),
    ],
)
def test_another_tenants_endpoint_is_a_404(
    world: ApiWorld, method: str, suffix: str, body: Any
) -> None:
    theirs = create(world, key=world.theirs.key)
    path = f"/v1/webhook-endpoints/{theirs['id']}{suffix}"

    response = world.request(method, path, json=body)

    assert response.status_code == 404, response.text
    assert problem_fields(response) == ["path.endpoint_id"]
    still = world.get(f"/v1/webhook-endpoints/{theirs['id']}", key=world.theirs.key)
    assert still.json()["description"] == ""
    assert world.get("/v1/webhook-endpoints").json()["items"] == []


def test_another_tenants_deliveries_are_a_404(world: ApiWorld) -> None:
    theirs = create(world, key=world.theirs.key)
    ping = world.post(f"/v1/webhook-endpoints/{theirs['id']}/test", None, world.theirs.key)
    assert ping.status_code == 202
    delivery_id = ping.json()["id"]

    assert world.get("/v1/webhook-deliveries").json()["items"] == []
    listed = world.get("/v1/webhook-deliveries", endpoint_id=theirs["id"])
    assert listed.status_code == 404
    assert problem_fields(listed) == ["query.endpoint_id"]
    for response in (
        world.get(f"/v1/webhook-deliveries/{delivery_id}"),
        world.post(f"/v1/webhook-deliveries/{delivery_id}/redeliver", None),
    ):
        assert response.status_code == 404
        assert problem_fields(response) == ["path.delivery_id"]


def test_deliveries_filter_and_page(world: ApiWorld) -> None:
    first, second = create(world), create(world)
    for endpoint in (first, first, second):
        assert world.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", None).status_code == 202

    everything = world.get("/v1/webhook-deliveries").json()
    of_first = world.get("/v1/webhook-deliveries", endpoint_id=first["id"]).json()
    page = world.get("/v1/webhook-deliveries", page=2, page_size=2).json()
    pending = world.get("/v1/webhook-deliveries", status="pending").json()
    pings = world.get("/v1/webhook-deliveries", event_type="whatsapp.ping").json()
    none = world.get("/v1/webhook-deliveries", event_type="whatsapp.window.closed").json()

    assert everything["total"] == 3
    assert [d["endpoint_id"] for d in everything["items"]] == [
        second["id"],
        first["id"],
        first["id"],
    ]
    assert of_first["total"] == 2
    assert page["total"] == 3
    assert [d["id"] for d in page["items"]] == [everything["items"][2]["id"]]
    assert pending["total"] == pings["total"] == 3
    assert none["total"] == 0
    item = everything["items"][0]
    assert item["attempts"] == []
    assert item["attempt_count"] == 0
    assert item["payload"]["type"] == "whatsapp.ping"
    assert item["payload"]["id"] == item["event"]["id"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "query.status"),
        ({"event_type": "window.closed"}, "query.event_type"),
        ({"event_type": "whatsapp.nothing"}, "query.event_type"),
        ({"page": 0}, "query.page"),
        ({"page_size": 201}, "query.page_size"),
    ],
)
def test_bad_delivery_filters_are_a_422(
    world: ApiWorld, params: dict[str, Any], field: str
) -> None:
    response = world.get("/v1/webhook-deliveries", **params)

    assert response.status_code == 422
    assert problem_fields(response) == [field]


def test_enable_takes_a_time_to_redeliver_since(world: ApiWorld) -> None:
    made = create(world)
    path = f"/v1/webhook-endpoints/{made['id']}/enable"

    bad = world.post(path, {"redeliver_since": "yesterday"})
    fine = world.post(path, {"redeliver_since": "2026-03-09T00:00:00Z"})

    assert bad.status_code == 422
    assert problem_fields(bad) == ["body.redeliver_since"]
    assert fine.status_code == 200
    assert fine.json()["redelivered"] == 0


def test_without_a_key_it_is_a_401(world: ApiWorld) -> None:
    for response in (
        world.get("/v1/webhook-endpoints", key=""),
        world.post("/v1/webhook-endpoints", HOOK, key=""),
        world.get("/v1/webhook-deliveries", key=""),
    ):
        assert response.status_code == 401


def test_the_openapi_document_describes_every_route_model_and_error(world: ApiWorld) -> None:
    document = world.get("/openapi.json").json()
    paths = document["paths"]

    expected = {
        "/v1/webhook-endpoints": {"get", "post"},
        "/v1/webhook-endpoints/{endpoint_id}": {"get", "patch", "delete"},
        "/v1/webhook-endpoints/{endpoint_id}/rotate-secret": {"post"},
        "/v1/webhook-endpoints/{endpoint_id}/enable": {"post"},
        "/v1/webhook-endpoints/{endpoint_id}/test": {"post"},
        "/v1/webhook-deliveries": {"get"},
        "/v1/webhook-deliveries/{delivery_id}": {"get"},
        "/v1/webhook-deliveries/{delivery_id}/redeliver": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            responses = paths[path][method]["responses"]
            assert "401" in responses, (path, method)
            problems = [
                code
                for code, answer in responses.items()
                if code.startswith("4") and "application/problem+json" in answer.get("content", {})
            ]
            assert set(problems) == {code for code in responses if code.startswith("4")}
    schemas = document["components"]["schemas"]
    for model in ("EndpointOut", "EndpointWithSecretOut", "DeliveryOut", "AttemptOut"):
        assert model in schemas
    for path in expected:
        assert "HTTPValidationError" not in json.dumps(paths[path]), path
