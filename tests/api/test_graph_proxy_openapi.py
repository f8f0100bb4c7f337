"""The Graph proxy's OpenAPI document lists every status it answers, with Graph's error shape.

The proxy answers its own refusals and the sends WhatsApp never answered in the
Graph API's error shape, and WhatsApp's own answers with WhatsApp's status. Each
answer below comes from the real app, sending to a real local Cloud API
(``GraphServer``) or to a local port nothing listens on; its status must be one
the operation documents (or its ``default``: WhatsApp's answer as it came), and
a documented error must carry the ``GraphErrorOut`` schema that its body
matches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.client import LINE, OTHER_LINE, ApiWorld
from tests.api.test_graph_proxy import TEXT, proxy
from tests.api.test_sending_api import connect_line, inbound, use_client
from tests.support.graph_server import Answer, GraphServer, graph_error, graph_server
from wawindow.entrypoints.api.graph_proxy import GraphErrorOut

NOBODY_LISTENS = "http://127.0.0.1:9"
GRAPH_ERROR_REF = "#/components/schemas/GraphErrorOut"


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with graph_server() as running:
        yield running


@pytest.fixture
def world(tmp_path: Path, server: GraphServer) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}") as opened:
        connect_line(opened, LINE, server.base_url)
        use_client(opened, read_timeout=0.3, attempts=1, backoff=0.0, backoff_limit=0.0)
        inbound(opened, 10)  # the window is open: a text goes to WhatsApp
        try:
            yield opened
        finally:
            opened.services.whatsapp.close()


def documented_responses(world: ApiWorld) -> dict[str, Any]:
    document = world.get("/openapi.json", key="").json()
    responses: dict[str, Any] = document["paths"]["/graph/{version}/{phone_number_id}/messages"][
        "post"
    ]["responses"]
    return responses


def check_documented(world: ApiWorld, response: httpx.Response) -> None:
    responses = documented_responses(world)
    documented = responses.get(str(response.status_code))
    if documented is None:
        assert "default" in responses, f"{response.status_code} is not documented"
        return
    schema = documented["content"]["application/json"]["schema"]
    assert schema == {"$ref": GRAPH_ERROR_REF}, documented
    GraphErrorOut.model_validate(response.json())


def test_the_proxys_refusals_are_documented_with_graphs_error_shape(world: ApiWorld) -> None:
    refusals = [
        proxy(world, TEXT, token="ww_not-a-key"),
        proxy(world, TEXT, path=f"/graph/v23.0/{OTHER_LINE}/messages"),
        proxy(world, b"{not json"),
    ]
    assert [r.status_code for r in refusals] == [401, 400, 400]
    for response in refusals:
        check_documented(world, response)


def test_whatsapp_unreachable_is_a_documented_503(world: ApiWorld) -> None:
    connect_line(world, LINE, NOBODY_LISTENS)
    response = proxy(world, TEXT)
    assert response.status_code == 503, response.text
    check_documented(world, response)


def test_no_answer_from_whatsapp_is_a_documented_504(world: ApiWorld, server: GraphServer) -> None:
    server.script(Answer(delay=5.0))
    response = proxy(world, TEXT)
    assert response.status_code == 504, response.text
    check_documented(world, response)


def test_whatsapps_own_status_is_documented_as_the_default(
    world: ApiWorld, server: GraphServer
) -> None:
    server.script(graph_error(132001, "(#132001) Template name does not exist", status=404))
    response = proxy(world, {**TEXT, "type": "template", "template": {"name": "nope"}})
    assert response.status_code == 404, response.text
    check_documented(world, response)
