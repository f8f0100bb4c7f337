"""Routes that FastAPI documents as usual but that answer through a plain handler.

FastAPI solves a route's dependencies and parameters anew on every request,
inspecting each parameter's annotation as it goes. For most routes that is
noise; for ``GET /v1/session-status``, the request an integration makes before
every send, it was a third of the server's time. ``direct_route(handler)`` is an
``APIRoute`` class for such a route: the endpoint's signature still makes the
OpenAPI document (parameters, security, responses), and ``handler``, a
``Request -> Response`` coroutine, serves the requests. The handler parses what
the signature declares with the same Pydantic types (``parse_query``) and raises
FastAPI's own ``RequestValidationError``, so clients see the same 422 problems
either way; ``tests/api`` hold its answers to the document.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
M = TypeVar("M", bound=BaseModel)


def direct_route(handler: Handler) -> type[APIRoute]:
    """An ``APIRoute`` class whose requests go to ``handler``."""

    class DirectRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            return handler

    return DirectRoute


def parse_query(model: type[M], query: Mapping[str, Any]) -> M:
    """``query`` as ``model``; a ``RequestValidationError`` located in ``query`` if not."""
    try:
        return model.model_validate(query)
    except ValidationError as error:
        errors = [{**item, "loc": ("query", *item["loc"])} for item in error.errors()]
        raise RequestValidationError(errors) from None
