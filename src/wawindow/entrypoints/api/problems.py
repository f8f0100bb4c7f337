"""RFC 9457 problem details for every error the HTTP API returns.

One error shape for the whole API, so a client needs one error path:
``{"type", "title", "status", "detail", "instance", "errors": [{"field", "message"}]}``
served as ``application/problem+json``. ``type`` is a stable URI
(``https://wawindow.dev/problems/<slug>``) a client can switch on; ``title`` is
for humans and may change wording.

``install_problem_handlers(app)`` makes that true for everything that can go
wrong in a request, not only for the errors our own code raises:

- ``Problem`` raised anywhere in a route → rendered as given;
- request validation (FastAPI's ``RequestValidationError``) → 422 naming each
  offending field as a dotted path (``query.since``, ``body.reason``,
  ``body.items.1``), because DESIGN §3 wants "a clear 4xx naming the field";
- ``HTTPException`` and Starlette's own 404/405 → a problem with that status;
- anything else → a 500 problem that reveals nothing about the internals
  (no exception text, no traceback), logged with an ``error_id`` that is also
  in the response, so an operator can find the traceback a user reports.

``document_problems(app)`` makes the OpenAPI document say so for every
operation, including those added later: the problems the framework answers
by itself (400 for a body that cannot be read, 401 where a key is required, 422
where there is input to validate, 500 anywhere) are listed with the problem
schema, in place of FastAPI's ``HTTPValidationError``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from wawindow.adapters.db.engine import database_unavailable

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_BASE: Final = "https://wawindow.dev/problems/"
MAX_FIELD_ERRORS: Final = 100
"""At most this many field errors are listed; a huge bad list must not give a huge answer."""

_SCHEMA_REF_TEMPLATE: Final = "#/components/schemas/{model}"
_PROBLEM_SCHEMA_REF: Final = _SCHEMA_REF_TEMPLATE.format(model="ProblemDocument")
_FASTAPI_VALIDATION_SCHEMAS: Final = ("HTTPValidationError", "ValidationError")
_OPERATION_METHODS: Final = frozenset(
    {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
)
# What FastAPI answers when a request body cannot be read (e.g. it is not UTF-8).
_UNREADABLE_BODY_DETAIL: Final = "There was an error parsing the body"
_STANDARD_MEMBERS: Final = frozenset({"type", "title", "status", "detail", "instance", "errors"})

# Stable slugs for the statuses the framework raises by itself. Spelled out rather
# than derived from ``HTTPStatus.name``, whose names change between Python versions
# (413 and 422 were renamed in 3.13).
_STATUS_SLUGS: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_content",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def problem_type_uri(slug: str) -> str:
    """The ``type`` URI for a slug; a value that already is a URI is kept as it is."""
    if ":" in slug:
        return slug
    return PROBLEM_TYPE_BASE + slug


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _status_slug(status: int) -> str:
    if status in _STATUS_SLUGS:
        return _STATUS_SLUGS[status]
    try:
        return HTTPStatus(status).name.lower()
    except ValueError:
        return "http_error"


class FieldError(BaseModel):
    """One offending input: where it is (dotted path) and what is wrong with it."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class ProblemDocument(BaseModel):
    """The RFC 9457 body, for the OpenAPI schema. Extension members are allowed."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": PROBLEM_TYPE_BASE + "validation_error",
                "title": "Invalid request",
                "status": 422,
                "detail": "1 invalid field: query.since",
                "instance": "/v1/conversations",
                "errors": [{"field": "query.since", "message": "Input should be a valid datetime"}],
            }
        },
    )

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An error to answer with a problem document; raise it from any route or service.

    ``type`` is a slug (``window_closed``) turned into the ``type`` URI, or a full
    URI. ``field`` is a shorthand for a single entry in ``errors`` (its message is
    ``detail``, else ``title``). Keyword arguments beyond these become extension
    members, e.g. ``last_inbound_at=...`` or ``templates=[...]`` on a
    ``window_closed`` problem; they are JSON-encoded with FastAPI's encoder.
    ``headers`` are sent with the response (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"a problem needs an error status (4xx/5xx), not {status}")
        clashing = _STANDARD_MEMBERS.intersection(extra)
        if clashing:
            raise ValueError(f"extension members clash with standard ones: {sorted(clashing)}")
        super().__init__(f"{status} {type}: {detail or title}")
        self.status = status
        self.type = problem_type_uri(type)
        self.title = title
        self.detail = detail
        self.errors: list[FieldError] = list(errors)
        if field is not None:
            self.errors.insert(0, FieldError(field=field, message=detail or title))
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = extra

    def document(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON body: standard members first, absent ones left out, then extensions."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        if instance is not None:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [error.model_dump() for error in self.errors]
        body.update(jsonable_encoder(self.extra))
        return body


class ProblemResponse(JSONResponse):
    """A JSON response with the ``application/problem+json`` media type."""

    media_type = PROBLEM_MEDIA_TYPE


def render_problem(problem: Problem, request: Request | None = None) -> ProblemResponse:
    """The response for ``problem``; ``instance`` is the request path when there is one."""
    instance = request.url.path if request is not None else None
    return ProblemResponse(
        problem.document(instance), status_code=problem.status, headers=problem.headers
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem bodies for ``statuses``.

    Pass them as ``FastAPI(responses=problem_responses(422, 500))`` or per route.
    Naming 422 also stops FastAPI from advertising its own ``HTTPValidationError``
    shape, which ``install_problem_handlers`` replaces. ``model`` is what makes
    FastAPI put ``ProblemDocument`` into the schema components; it also lists the
    schema under the route's own media type (``application/json``), which does no
    harm, and the ``$ref`` puts it under ``application/problem+json``, the real one.
    """
    return {
        status: {
            "description": _status_phrase(status),
            "model": ProblemDocument,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_SCHEMA_REF}}},
        }
        for status in statuses
    }


def _dotted(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location)


def _field_error(error: Mapping[str, Any]) -> FieldError:
    """One pydantic/FastAPI error → a ``FieldError``; the input value is never echoed."""
    location: Sequence[int | str] = error.get("loc", ())
    message = str(error.get("msg", "Invalid value"))
    if error.get("type") == "json_invalid":
        # FastAPI puts the character offset where the field name would be.
        reason = error.get("ctx", {}).get("error")
        position = location[1] if len(location) > 1 else None
        message = f"Invalid JSON: {reason}" if reason else "Invalid JSON"
        if position is not None:
            message += f" (at character {position})"
        location = location[:1]
    return FieldError(field=_dotted(location) or "request", message=message)


def validation_problem(error: RequestValidationError) -> Problem:
    """The 422 problem for a request that failed FastAPI's validation."""
    all_errors = [_field_error(item) for item in error.errors()]
    shown = all_errors[:MAX_FIELD_ERRORS]
    fields = list(dict.fromkeys(item.field for item in shown))
    count = len(all_errors)
    noun = "invalid field" if count == 1 else "invalid fields"
    detail = f"{count} {noun}: {', '.join(fields)}"
    if count > len(shown):
        detail += f" (first {len(shown)} listed)"
    return Problem(422, "validation_error", "Invalid request", detail, errors=shown)


def http_problem(error: StarletteHTTPException) -> Problem:
    """A problem for ``HTTPException`` (ours or Starlette's routing 404/405)."""
    phrase = _status_phrase(error.status_code)
    detail = error.detail if isinstance(error.detail, str) and error.detail != phrase else None
    unreadable = error.status_code == 400 and detail == _UNREADABLE_BODY_DETAIL
    return Problem(
        error.status_code,
        _status_slug(error.status_code),
        phrase,
        detail,
        field="body" if unreadable else None,
        headers=error.headers,
    )


async def _handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return render_problem(exc, request)


async def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return render_problem(validation_problem(exc), request)


async def _handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code < 400:  # not an error (e.g. 304): no problem body to give
        return Response(status_code=exc.status_code, headers=exc.headers)
    return render_problem(http_problem(exc), request)


# Long enough for a writer's transaction or a burst of requests to pass.
DATABASE_RETRY_AFTER_SECONDS: Final = 1


async def _handle_database(request: Request, exc: Exception) -> Response:
    """A database that cannot serve the request now (busy, out of reach) is a 503 the
    client may retry; any other database error is a bug, a 500."""
    if not database_unavailable(exc):
        return await _handle_unexpected(request, exc)
    logger.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    problem = Problem(
        503,
        "database_unavailable",
        "Database unavailable",
        "The database could not serve this request in time; retry after Retry-After seconds.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )
    return render_problem(problem, request)


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    error_id = uuid.uuid4().hex
    logger.error(
        "unhandled error %s on %s %s",
        error_id,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    problem = Problem(
        500,
        "internal_error",
        "Internal Server Error",
        "An unexpected error occurred. It has been logged; quote the error_id when reporting it.",
        error_id=error_id,
    )
    return render_problem(problem, request)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document.

    The catch-all for ``Exception`` runs in Starlette's outermost middleware, so it
    also covers errors raised by other middleware. Starlette re-raises the error
    after sending the 500, so the server logs it too; tests therefore need a
    client that does not re-raise app exceptions.
    """
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(SQLAlchemyError, _handle_database)
    app.add_exception_handler(Exception, _handle_unexpected)


def document_problems(app: FastAPI) -> None:
    """Have ``app``'s OpenAPI document list, per operation, the problems it can answer.

    Routes document the problems of their own rules (404, 409, ...) with
    ``problem_responses``; this adds those any operation can get from the
    framework, so no operation, present or added later, leaves one out.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_framework_problems(generate())  # ``generate`` caches it in ``openapi_schema``
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _add_framework_problems(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _OPERATION_METHODS:
                _add_operation_problems(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDocument.model_json_schema(
        ref_template=_SCHEMA_REF_TEMPLATE, mode="serialization"
    )
    for name, schema in {**problem.pop("$defs", {}), "ProblemDocument": problem}.items():
        schemas.setdefault(name, schema)
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)


def _add_operation_problems(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    needed = {500, 503}  # 503: the database is busy or out of reach (retry)
    if "requestBody" in operation:
        needed |= {400, 422}
    if operation.get("parameters"):
        needed.add(422)
    if operation.get("security"):
        needed.add(401)
    for key, response in list(responses.items()):
        if "HTTPValidationError" in str(response.get("content", "")):
            responses[key] = _problem_response(int(key))
    for status in sorted(needed):
        responses.setdefault(str(status), _problem_response(status))


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _status_phrase(status),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_SCHEMA_REF}}},
    }
