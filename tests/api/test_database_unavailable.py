"""A database that cannot serve a request now is a 503 with Retry-After, never a 500.

The case made here is the one a busy ``serve`` process meets first: every pooled
connection is taken. The requests that read on the event loop (session status)
and those that read on a worker thread (contacts, conversations) answer alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, exc

from tests.api.client import LINE, ApiWorld
from wawindow.entrypoints.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

PHONE = "+27821234567"
REQUESTS: list[tuple[str, dict[str, str]]] = [
    ("/v1/session-status", {"phone_number_id": LINE, "contact_phone": PHONE}),
    ("/v1/contacts", {"phone": PHONE}),
    ("/v1/conversations", {}),
]


@pytest.fixture
def world(db_url: str) -> Iterator[ApiWorld]:
    with ApiWorld.open(db_url, database_pool_timeout=0.2) as opened:
        yield opened


@contextmanager
def every_connection_taken(engine: Engine) -> Iterator[None]:
    held: list[Any] = []
    try:
        while True:
            try:
                held.append(engine.raw_connection())
            except exc.TimeoutError:
                break
        yield
    finally:
        for connection in held:
            connection.close()


def test_requests_answer_503_while_no_connection_comes_free(world: ApiWorld) -> None:
    assert world.post("/v1/contacts", {"phone": PHONE}).status_code in (200, 201)
    with every_connection_taken(world.services.engine):
        for path, params in REQUESTS:
            response = world.get(path, **params)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
            assert response.headers["retry-after"] == "1"
            body = response.json()
            assert body["type"] == PROBLEM_TYPE_BASE + "database_unavailable"
            assert body["instance"] == path
    for path, params in REQUESTS:  # and once connections are free again, the same requests work
        assert world.get(path, **params).status_code == 200, path


def test_every_operation_documents_the_503(world: ApiWorld) -> None:
    document = world.get("/openapi.json", key="").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "503" in operation["responses"], (method, path)
