"""Every operation of the API, walked with another tenant's key and with no valid key at all.

The tenant ``mine`` has data (``tests.api.seed``); the tenant ``theirs`` has
none. Each operation is called as ``mine`` would call it, naming ``mine``'s
objects. With ``theirs``'s key the answer is a 404 (the object is another
tenant's: never a 403, never data) or ``theirs``'s own, empty view; with no key,
an unknown key, a revoked key or a wrong bearer token, a 401. Nothing of
``mine`` changes through any of these calls, and ``mine``'s own calls succeed,
so the walk named real objects. No answer to ``theirs`` shows ``mine``'s ids or
people.

The Graph proxy answers in WhatsApp's error shape instead of problem documents,
as graph.facebook.com would: ``theirs`` naming ``mine``'s line gets Graph's
error for an object that does not exist (400, code 100, subcode 33), and a
missing or dead key is Graph's invalid token (401, code 190).

``mine``'s line sends to a local Cloud API (``GraphServer``), so ``mine``'s own
sends go no further than this machine; ``theirs``'s sends name a line or a
contact that is not ``theirs`` and are refused before any network call.

The operations come from the app itself (its OpenAPI document and its routes).
One that ``WALK`` does not know how to call fails the test: an endpoint added
later must be added here (or to ``PUBLIC``, if it needs no key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from tests.api.client import ApiWorld
from tests.api.seed import BOB_PHONE, HIDDEN_BSUID, SETTINGS, THANDI_PHONE, Seeded, seed
from tests.support.graph_server import GraphServer, graph_server
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.service.tenants import create_key, revoke_key

# Operations that need no API key: health, metrics, WhatsApp's webhooks (signed
# with the line's app secret instead) and the API's own documentation.
PUBLIC = frozenset(
    {
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /webhooks/meta",
        "POST /webhooks/meta",
        "GET /openapi.json",
        "GET /docs",
        "GET /docs/oauth2-redirect",
        "GET /redoc",
    }
)

Expect = Literal["not_found", "own_view", "graph_unknown_object"]


@dataclass(frozen=True)
class Call:
    """One request naming ``mine``'s objects, and what ``theirs`` must get for it."""

    method: str
    path: str
    theirs_get: Expect
    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def graph_shaped(self) -> bool:
        """Answered in WhatsApp's error shape (the Graph proxy), not as problems."""
        return self.path.startswith("/graph/")

    def send(self, world: ApiWorld, headers: dict[str, str]) -> httpx.Response:
        return world.request(
            self.method, self.path, "", params=self.params, json=self.body, headers=headers
        )


def _template_path(s: Seeded) -> str:
    return f"/v1/templates/{s.line}/{s.template['name']}/{s.template['language']}"


def _send(s: Seeded) -> dict[str, Any]:
    return {"phone_number_id": s.line, "contact_id": s.contact_id, "text": "Still there?"}


def _endpoint(s: Seeded, action: str = "") -> str:
    return f"/v1/webhook-endpoints/{s.endpoint_id}{action}"


# How to call each operation with ``mine``'s objects: one call, or several when
# the operation answers in more than one way (a dry run, a filtered list).
WALK: dict[str, Callable[[Seeded], Call | tuple[Call, ...]]] = {
    "GET /v1/conversations": lambda s: Call("GET", "/v1/conversations", "own_view"),
    "GET /v1/conversations/{conversation_id}": lambda s: Call(
        "GET", f"/v1/conversations/{s.conversation_id}", "not_found"
    ),
    "POST /v1/conversations/{conversation_id}/close": lambda s: Call(
        "POST",
        f"/v1/conversations/{s.conversation_id}/close",
        "not_found",
        body={"reason": "agent_close"},
    ),
    "GET /v1/session-status": lambda s: Call(
        "GET",
        "/v1/session-status",
        "not_found",
        params={"phone_number_id": s.line, "contact_phone": s.contact_phone},
    ),
    "POST /v1/contacts": lambda s: Call(
        "POST",
        "/v1/contacts",
        "own_view",
        body={"phone": s.contact_phone, "external_ref": s.customer_id, "name": "Someone"},
    ),
    "GET /v1/contacts": lambda s: Call(
        "GET", "/v1/contacts", "own_view", params={"phone": s.contact_phone}
    ),
    "GET /v1/contacts/{contact_id}": lambda s: Call(
        "GET", f"/v1/contacts/{s.contact_id}", "not_found"
    ),
    "GET /v1/messages": lambda s: Call(
        "GET", "/v1/messages", "own_view", params={"contact_id": s.contact_id}
    ),
    "GET /v1/messages/{message_id}": lambda s: Call(
        "GET", f"/v1/messages/{s.message_id}", "not_found"
    ),
    "GET /v1/templates": lambda s: Call(
        "GET", "/v1/templates", "not_found", params={"phone_number_id": s.line}
    ),
    "POST /v1/templates": lambda s: Call(
        "POST",
        "/v1/templates",
        "not_found",
        body={**s.template, "name": "new_one", "category": "utility", "body": "Hi {{1}}"},
    ),
    "GET /v1/templates/{phone_number_id}/{name}/{language}": lambda s: Call(
        "GET", _template_path(s), "not_found"
    ),
    "PATCH /v1/templates/{phone_number_id}/{name}/{language}": lambda s: Call(
        "PATCH", _template_path(s), "not_found", body={"status": "PAUSED"}
    ),
    "GET /v1/billing/summary": lambda s: Call(
        "GET",
        "/v1/billing/summary",
        "own_view",
        params={"since": "2026-03-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"},
    ),
    "GET /v1/drift": lambda s: Call("GET", "/v1/drift", "own_view"),
    "GET /v1/settings": lambda s: Call("GET", "/v1/settings", "own_view"),
    "PATCH /v1/settings": lambda s: Call(
        "PATCH", "/v1/settings", "own_view", body={"send_margin": "PT2M"}
    ),
    # ``mine``'s line is another tenant's to ``theirs``: refused before any send.
    "POST /v1/messages": lambda s: (
        Call("POST", "/v1/messages", "not_found", params={"dry_run": "true"}, body=_send(s)),
        Call("POST", "/v1/messages", "not_found", body=_send(s)),
    ),
    "POST /v1/contacts/{contact_id}/reply": lambda s: Call(
        "POST",
        f"/v1/contacts/{s.contact_id}/reply",
        "not_found",
        body={"phone_number_id": s.line, "text": "On it!"},
    ),
    "POST /graph/{version}/{phone_number_id}/messages": lambda s: Call(
        "POST",
        f"/graph/v23.0/{s.line}/messages",
        "graph_unknown_object",
        body={
            "messaging_product": "whatsapp",
            "to": THANDI_PHONE,
            "type": "text",
            "text": {"body": "Your order is on its way"},
        },
    ),
    "GET /v1/webhook-endpoints": lambda s: Call("GET", "/v1/webhook-endpoints", "own_view"),
    "POST /v1/webhook-endpoints": lambda s: Call(
        "POST",
        "/v1/webhook-endpoints",
        "own_view",
        body={"url": "http://127.0.0.1:9/other", "events": ["whatsapp.message.*"]},
    ),
    "GET /v1/webhook-endpoints/{endpoint_id}": lambda s: Call("GET", _endpoint(s), "not_found"),
    "PATCH /v1/webhook-endpoints/{endpoint_id}": lambda s: Call(
        "PATCH", _endpoint(s), "not_found", body={"description": "CRM, renamed"}
    ),
    # The spare endpoint: deleting the other one would take its delivery with it.
    "DELETE /v1/webhook-endpoints/{endpoint_id}": lambda s: Call(
        "DELETE", f"/v1/webhook-endpoints/{s.spare_endpoint_id}", "not_found"
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret": lambda s: Call(
        "POST", _endpoint(s, "/rotate-secret"), "not_found"
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/enable": lambda s: Call(
        "POST",
        _endpoint(s, "/enable"),
        "not_found",
        body={"redeliver_since": "2026-03-01T00:00:00Z"},
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/test": lambda s: Call(
        "POST", _endpoint(s, "/test"), "not_found"
    ),
    "GET /v1/webhook-deliveries": lambda s: (
        Call("GET", "/v1/webhook-deliveries", "own_view"),
        Call("GET", "/v1/webhook-deliveries", "not_found", params={"endpoint_id": s.endpoint_id}),
    ),
    "GET /v1/webhook-deliveries/{delivery_id}": lambda s: Call(
        "GET", f"/v1/webhook-deliveries/{s.delivery_id}", "not_found"
    ),
    "POST /v1/webhook-deliveries/{delivery_id}/redeliver": lambda s: Call(
        "POST", f"/v1/webhook-deliveries/{s.delivery_id}/redeliver", "not_found"
    ),
}

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "errors"}


def served_operations(world: ApiWorld) -> set[str]:
    """``METHOD /path`` of every operation: the OpenAPI document's and every route's."""
    document = world.get("/openapi.json", key="").json()
    operations = {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }
    for route in world.app.routes:
        if isinstance(route, APIRoute | Route):
            path = route.path_format
            operations |= {f"{m} {path}" for m in route.methods or () if m != "HEAD"}
    return operations


@dataclass
class MineData:
    """What only ``mine``'s data holds: ids it was given, and its people's details.

    ``theirs`` may write the same phone number or reference to its own contacts (a
    person can be a customer of two tenants), so those count as leaked only when
    ``theirs`` never sent them; ids are ``mine``'s alone, whatever was sent.
    """

    ids: set[str]
    details: set[str]
    sent_by_theirs: list[str] = field(default_factory=list)

    def leaked(self, text: str, refusal: bool = False) -> set[str]:
        """What of ``mine`` ``text`` shows; a refusal may name the ids it was sent."""
        sent = " ".join(self.sent_by_theirs)
        details = {value for value in self.details if value not in sent}
        ids = {value for value in self.ids if value not in sent} if refusal else self.ids
        return {value for value in ids | details if value in text}


def mine_data(world: ApiWorld, seeded: Seeded) -> MineData:
    ids = {
        world.mine.id,
        seeded.contact_id,
        seeded.merged_contact_id,
        seeded.conversation_id,
        seeded.closed_conversation_id,
        seeded.message_id,
        seeded.failed_message_id,
        seeded.send_id,
        seeded.sent_message_id,
        seeded.endpoint_id,
        seeded.spare_endpoint_id,
        seeded.endpoint_secret,
        seeded.delivery_id,
    }
    details = {
        seeded.contact_phone.lstrip("+"),
        seeded.contact_bsuid,
        seeded.customer_id,
        BOB_PHONE,
        HIDDEN_BSUID,
        seeded.template["name"],
        *SETTINGS.values(),
    }
    return MineData(ids, details)


@dataclass
class Keys:
    mine: str
    theirs: str
    revoked: str


@pytest.fixture
def graph() -> Iterator[GraphServer]:
    with graph_server() as running:
        yield running


@pytest.fixture
def world(db_url: str) -> Iterator[ApiWorld]:
    with ApiWorld.open(db_url) as opened:
        try:
            yield opened
        finally:
            opened.services.whatsapp.close()


def revoked_key(world: ApiWorld) -> str:
    with SqlTenantStore(world.services.engine) as store:
        key = create_key(store, world.mine.id, world.now)
    with SqlTenantStore(world.services.engine) as store:
        revoke_key(store, key.key_id, world.now)
    return key.api_key


def unauthorized_headers(keys: Keys) -> dict[str, dict[str, str]]:
    return {
        "no key": {},
        "an unknown key": {"X-API-Key": "ww_not-a-key-of-anyone"},
        "a revoked key": {"X-API-Key": keys.revoked},
        "a revoked bearer token": {"Authorization": f"Bearer {keys.revoked}"},
        "a key in another scheme": {"Authorization": f"Basic {keys.mine}"},
    }


def mine_snapshot(world: ApiWorld, calls: dict[str, Call], key: str) -> dict[str, Any]:
    """What ``mine`` sees through every GET of the walk."""
    return {
        label: call.send(world, {"X-API-Key": key}).json()
        for label, call in calls.items()
        if call.method == "GET"
    }


def check_theirs(label: str, call: Call, response: httpx.Response, mine: MineData) -> None:
    answer = f"{label}: {response.status_code} {response.text}"
    if call.theirs_get == "not_found":
        assert response.status_code == 404, answer
        assert response.headers["content-type"] == "application/problem+json"
        assert set(response.json()) <= PROBLEM_MEMBERS, answer
    elif call.theirs_get == "graph_unknown_object":
        assert response.status_code == 400, answer
        error = response.json()["error"]
        assert (error["code"], error["error_subcode"]) == (100, 33), answer
    else:
        assert 200 <= response.status_code < 300, answer
    leaked = mine.leaked(response.text, refusal=call.theirs_get != "own_view")
    assert not leaked, f"{label} shows {leaked} of another tenant: {response.text}"


def check_unauthorized(label: str, call: Call, response: httpx.Response) -> None:
    assert response.status_code == 401, f"{label}: {response.text}"
    if call.graph_shaped:  # Graph's invalid access token
        assert response.json()["error"]["code"] == 190, f"{label}: {response.text}"
    else:
        assert response.headers["www-authenticate"] == "Bearer"


def walk_calls(seeded: Seeded) -> dict[str, Call]:
    """Every call of the walk, labelled by its operation (and its place, if several)."""
    calls: dict[str, Call] = {}
    for label, make in WALK.items():
        made = make(seeded)
        variants = made if isinstance(made, tuple) else (made,)
        for index, call in enumerate(variants):
            calls[label if index == 0 else f"{label} #{index + 1}"] = call
    return calls


def test_every_operation_keeps_tenants_apart_and_refuses_a_missing_or_dead_key(
    world: ApiWorld, graph: GraphServer
) -> None:
    unknown = served_operations(world) - PUBLIC - WALK.keys()
    assert not unknown, f"add these operations to WALK (or PUBLIC) in this file: {unknown}"
    gone = WALK.keys() - served_operations(world)
    assert not gone, f"WALK names operations the app no longer serves: {gone}"

    seeded = seed(world, graph.base_url)
    keys = Keys(world.mine.key, world.theirs.key, revoked_key(world))
    calls = walk_calls(seeded)
    sends_before = len(graph.requests)
    before = mine_snapshot(world, calls, keys.mine)
    mine = mine_data(world, seeded)

    for label, call in calls.items():
        for who, headers in unauthorized_headers(keys).items():
            check_unauthorized(f"{label} with {who}", call, call.send(world, headers))
        mine.sent_by_theirs.append(f"{call.path} {call.params} {call.body}")
        check_theirs(label, call, call.send(world, {"X-API-Key": keys.theirs}), mine)
        theirs_bearer = call.send(world, {"Authorization": f"Bearer {keys.theirs}"})
        check_theirs(f"{label} (bearer)", call, theirs_bearer, mine)

    assert mine_snapshot(world, calls, keys.mine) == before  # nothing of mine changed
    assert len(graph.requests) == sends_before  # nothing was sent with mine's line

    for label, call in calls.items():
        response = call.send(world, {"Authorization": f"Bearer {keys.mine}"})
        assert 200 <= response.status_code < 300, f"{label}: {response.text}"
    assert len(graph.sends) == sends_before + 3  # the send, the reply, the proxied send
