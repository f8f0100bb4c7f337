"""The HTTP application (FastAPI): webhooks in, the query API, webhooks out, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wawindow.bootstrap import Services, build_services
from wawindow.entrypoints.api import (
    billing,
    contacts,
    conversations,
    health,
    messages,
    session_status,
    templates,
    webhook_deliveries,
    webhook_endpoints,
    webhooks_meta,
)
from wawindow.entrypoints.api.problems import install_problem_handlers


def create_app(services: Services | None = None) -> FastAPI:
    """The app for ``services`` (built from the environment when not given)."""
    services = services or build_services()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.engine.dispose()

    app = FastAPI(
        title="wawindow",
        summary="WhatsApp windows, conversations and costs, computed from the facts.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(webhooks_meta.router)
    for module in (conversations, session_status, contacts, messages, templates, billing):
        app.include_router(module.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(webhook_deliveries.router)
    return app
