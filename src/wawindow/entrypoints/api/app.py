"""The HTTP application (FastAPI): webhooks in, the query API, sending, the Graph proxy,
webhooks out, health and metrics.

Its lifespan also runs the background jobs (the scheduler and the webhook
dispatcher) in one thread of the process, unless the settings say not to
(``WAWINDOW_WORKER=0``, ``serve --no-worker``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from wawindow.bootstrap import Services, build_services
from wawindow.entrypoints.api import (
    billing,
    contacts,
    conversations,
    graph_proxy,
    health,
    messages,
    sending,
    session_status,
    settings,
    templates,
    webhook_deliveries,
    webhook_endpoints,
    webhooks_meta,
)
from wawindow.entrypoints.api.problems import document_problems, install_problem_handlers
from wawindow.entrypoints.worker import WorkerThread, worker_loop


def create_app(services: Services | None = None) -> FastAPI:
    """The app for ``services`` (built from the environment when not given)."""
    services = services or build_services()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = WorkerThread(worker_loop(services)) if services.settings.worker else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            services.whatsapp.close()
            services.engine.dispose()

    app = FastAPI(
        title="wawindow",
        summary="WhatsApp windows, conversations and costs, computed from the facts.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    install_problem_handlers(app)
    document_problems(app)
    # Routes are matched in order: the request integrations make before every send first.
    app.include_router(session_status.router)
    app.include_router(health.router)
    app.include_router(webhooks_meta.router)
    for module in (
        conversations,
        contacts,
        messages,
        templates,
        billing,
        settings,
    ):
        app.include_router(module.router)
    app.include_router(sending.router)
    app.include_router(graph_proxy.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(webhook_deliveries.router)
    return app
