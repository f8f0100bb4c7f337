"""Liveness, readiness (the database answers) and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from wawindow.entrypoints.api.deps import ServicesDep
from wawindow.entrypoints.api.problems import Problem, problem_responses

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers", responses=problem_responses(503))
async def readyz(svc: ServicesDep) -> dict[str, str]:
    def ping() -> None:
        with svc.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as error:
        raise Problem(503, "database_unavailable", "Database unavailable", str(error)) from error
    return {"status": "ready", "database": svc.engine.dialect.name}


METRICS_CONTENT = {
    media_type: {"schema": {"type": "string"}}
    for media_type in ("text/plain", "application/openmetrics-text")
}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"description": "The exposition, as `Accept` asks", "content": METRICS_CONTENT}
    },
)
async def metrics(svc: ServicesDep, accept: Annotated[str | None, Header()] = None) -> Response:
    body, content_type = svc.metrics.render(accept)
    return Response(body, media_type=content_type)
