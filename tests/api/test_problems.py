"""Every error of the API is an RFC 9457 problem document, whatever raised it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

from wawindow.entrypoints.api.problems import (
    MAX_FIELD_ERRORS,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    FieldError,
    Problem,
    document_problems,
    install_problem_handlers,
    problem_responses,
)


class CloseRequest(BaseModel):
    reason: Literal["manual_close", "agent_close"]


class Batch(BaseModel):
    items: list[int]


API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)


def make_app() -> FastAPI:
    app = FastAPI(responses=problem_responses(422, 500))
    install_problem_handlers(app)

    @app.get("/conversations")
    def conversations(since: datetime) -> dict[str, str]:
        return {"since": since.isoformat()}

    @app.post("/conversations/{conversation_id}/close")
    def close(conversation_id: int, request: CloseRequest) -> dict[str, str]:
        return {"reason": request.reason}

    @app.post("/batch")
    def batch(request: Batch) -> dict[str, int]:
        return {"count": len(request.items)}

    @app.get("/window")
    def window() -> None:
        raise Problem(
            403,
            "window_closed",
            "The customer service window is closed",
            "The last inbound message is older than 24 hours.",
            headers={"X-Reason": "window"},
            last_inbound_at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
            templates=[{"name": "order_update", "language": "en_US"}],
        )

    @app.get("/field")
    def field() -> None:
        raise Problem(409, "duplicate_reference", "Reference in use", field="body.external_ref")

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(status_code=418, detail="Short and stout")

    @app.get("/auth")
    def auth() -> None:
        raise HTTPException(status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.get("/unchanged")
    def unchanged() -> None:
        raise HTTPException(status_code=304)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("database password is hunter2")

    return app


def call(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request through the ASGI app, without a server.

    httpx directly rather than ``TestClient``, whose import warns (and warnings
    are errors here); app exceptions are not re-raised, as a real server would not.
    """

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + slug
    assert body["status"] == status
    return body


def test_validation_error_names_query_field() -> None:
    body = assert_problem(
        call(make_app(), "GET", "/conversations?since=yesterday"), 422, "validation_error"
    )
    assert body["title"] == "Invalid request"
    assert body["detail"] == "1 invalid field: query.since"
    assert body["instance"] == "/conversations"
    assert [error["field"] for error in body["errors"]] == ["query.since"]
    assert "datetime" in body["errors"][0]["message"]
    assert "yesterday" not in str(body)  # the input is never echoed


def test_validation_error_names_every_field_with_its_location() -> None:
    response = call(make_app(), "POST", "/conversations/abc/close", json={"reason": "bored"})
    body = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["path.conversation_id", "body.reason"]
    assert body["detail"] == "2 invalid fields: path.conversation_id, body.reason"


def test_missing_field_and_list_items_are_dotted_paths() -> None:
    app = make_app()
    missing = assert_problem(call(app, "POST", "/batch", json={}), 422, "validation_error")
    assert missing["errors"] == [{"field": "body.items", "message": "Field required"}]
    bad_item = assert_problem(
        call(app, "POST", "/batch", json={"items": [1, "x"]}), 422, "validation_error"
    )
    assert [error["field"] for error in bad_item["errors"]] == ["body.items.1"]


def test_invalid_json_names_the_body_not_a_character_offset() -> None:
    response = call(
        make_app(),
        "POST",
        "/batch",
        content=b'{"items": [1,',
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 422, "validation_error")
    [error] = body["errors"]
    assert error["field"] == "body"
    assert error["message"].startswith("Invalid JSON")


def test_many_field_errors_are_capped() -> None:
    items = ["x"] * (MAX_FIELD_ERRORS + 5)
    body = assert_problem(
        call(make_app(), "POST", "/batch", json={"items": items}), 422, "validation_error"
    )
    assert len(body["errors"]) == MAX_FIELD_ERRORS
    assert body["detail"].startswith(f"{MAX_FIELD_ERRORS + 5} invalid fields: body.items.0, ")
    assert body["detail"].endswith(f"(first {MAX_FIELD_ERRORS} listed)")


def test_raised_problem_renders_exactly() -> None:
    response = call(make_app(), "GET", "/window")
    assert_problem(response, 403, "window_closed")
    assert response.headers["x-reason"] == "window"
    assert response.json() == {
        "type": "https://wawindow.dev/problems/window_closed",
        "title": "The customer service window is closed",
        "status": 403,
        "detail": "The last inbound message is older than 24 hours.",
        "instance": "/window",
        "last_inbound_at": "2026-03-10T09:00:00+00:00",
        "templates": [{"name": "order_update", "language": "en_US"}],
    }


def test_problem_field_shorthand_becomes_an_error_entry() -> None:
    body = assert_problem(call(make_app(), "GET", "/field"), 409, "duplicate_reference")
    assert body["errors"] == [{"field": "body.external_ref", "message": "Reference in use"}]
    assert "detail" not in body


def test_unknown_route_is_a_problem_404() -> None:
    body = assert_problem(call(make_app(), "GET", "/nowhere"), 404, "not_found")
    assert body["title"] == "Not Found"
    assert body["instance"] == "/nowhere"
    assert "detail" not in body


def test_wrong_method_is_a_problem_405_with_allow_header() -> None:
    response = call(make_app(), "DELETE", "/conversations")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_http_exception_keeps_its_detail_and_headers() -> None:
    app = make_app()
    teapot = assert_problem(call(app, "GET", "/teapot"), 418, "im_a_teapot")
    assert teapot["detail"] == "Short and stout"
    response = call(app, "GET", "/auth")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_non_error_http_exception_has_no_problem_body() -> None:
    response = call(make_app(), "GET", "/unchanged")
    assert response.status_code == 304
    assert response.content == b""


def test_unhandled_error_is_a_500_problem_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="wawindow.entrypoints.api.problems"):
        response = call(make_app(), "GET", "/boom")
    body = assert_problem(response, 500, "internal_error")
    assert set(body) == {"type", "title", "status", "detail", "instance", "error_id"}
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    [record] = caplog.records
    assert body["error_id"] in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_openapi_documents_problem_documents() -> None:
    schema = make_app().openapi()
    responses = schema["paths"]["/conversations"]["get"]["responses"]
    content = responses["422"]["content"]
    assert content[PROBLEM_MEDIA_TYPE]["schema"]["$ref"] == "#/components/schemas/ProblemDocument"
    problem_schema = schema["components"]["schemas"]["ProblemDocument"]
    assert set(problem_schema["required"]) == {"type", "title", "status"}
    assert "FieldError" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_a_body_that_is_not_utf8_is_a_400_naming_the_body() -> None:
    response = call(
        make_app(),
        "POST",
        "/batch",
        content=b"\xc7z\xb1\xde",
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 400, "bad_request")
    assert body["errors"] == [{"field": "body", "message": "There was an error parsing the body"}]


def test_every_operation_documents_the_problems_the_framework_answers() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    document_problems(app)

    @app.get("/plain")
    def plain() -> dict[str, str]:
        return {}

    @app.get("/items/{item_id}")
    def item(item_id: int, api_key: Annotated[str | None, Depends(API_KEY)]) -> dict[str, str]:
        return {}

    @app.post("/items")
    def add(request: Batch) -> dict[str, str]:
        return {}

    document = app.openapi()
    paths = document["paths"]
    assert set(paths["/plain"]["get"]["responses"]) == {"200", "500", "503"}
    assert set(paths["/items/{item_id}"]["get"]["responses"]) == {
        "200",
        "401",
        "422",
        "500",
        "503",
    }
    assert set(paths["/items"]["post"]["responses"]) == {"200", "400", "422", "500", "503"}
    for status, response in paths["/items"]["post"]["responses"].items():
        if status != "200":
            assert response["content"] == {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}
            }
    schemas = document["components"]["schemas"]
    assert {"ProblemDocument", "FieldError"} <= set(schemas)
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)
    assert app.openapi() is document  # built once


def test_problem_rejects_non_error_status_and_clashing_members() -> None:
    with pytest.raises(ValueError, match="error status"):
        Problem(200, "fine", "Fine")
    with pytest.raises(ValueError, match="clash"):
        Problem(400, "bad", "Bad", instance="/elsewhere")


def test_problem_document_without_request() -> None:
    problem = Problem(
        422,
        "https://example.com/custom",
        "Custom",
        errors=[FieldError(field="a", message="b")],
    )
    assert problem.document() == {
        "type": "https://example.com/custom",
        "title": "Custom",
        "status": 422,
        "errors": [{"field": "a", "message": "b"}],
    }
    assert str(problem) == "422 https://example.com/custom: Custom"
