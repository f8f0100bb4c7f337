"""Webhook use cases run off the event loop, their errors turned into problem documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.webhook_store import SqlWebhookStore
from wawindow.bootstrap import Services
from wawindow.entrypoints.api.problems import Problem
from wawindow.service.webhook_endpoints import (
    DeliveryNotFound,
    EndpointNotFound,
    InvalidEndpoint,
    WebhookConflict,
    WebhookError,
)

T = TypeVar("T")


async def run_webhooks(svc: Services, use: Callable[[SqlWebhookStore], T]) -> T:
    """``use`` in one transaction: not found → 404, invalid → 422, wrong state → 409."""

    def run() -> T:
        with svc.webhook_store() as store:
            return use(store)

    try:
        return await run_in_threadpool(run)
    except (EndpointNotFound, DeliveryNotFound) as error:
        raise _problem(404, "not_found", "Not found", error) from error
    except InvalidEndpoint as error:
        raise _problem(422, "validation_error", "Invalid request", error) from error
    except WebhookConflict as error:
        raise _problem(409, "conflict", "Conflict", error) from error


def _problem(status: int, slug: str, title: str, error: WebhookError) -> Problem:
    return Problem(status, slug, title, str(error), field=error.field)
