"""The sandbox's HTTP application (FastAPI).

Two faces:

- the **Cloud API** (``cloud_api``), answered exactly as WhatsApp answers:
  ``POST /{version}/{phone_number_id}/messages`` and
  ``GET /{version}/{waba_id}/message_templates``;
- the **sandbox API** (``control_api``) under ``/sandbox/`` for people and tests:
  inject what users do, move the clock, load templates, queue faults, and read
  what happened.

The webhook sender runs while the app does (started and stopped by its lifespan).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wawindow.entrypoints.api.problems import install_problem_handlers
from wawindow.entrypoints.sandbox import cloud_api, control_api
from wawindow.entrypoints.sandbox.sandbox import Sandbox


def create_sandbox_app(sandbox: Sandbox) -> FastAPI:
    """The app serving ``sandbox``; its webhook sender runs while the app does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await sandbox.sender.start()
        try:
            yield
        finally:
            await sandbox.sender.close()

    app = FastAPI(
        title="wawindow sandbox",
        summary="A local stand-in for the WhatsApp Cloud API.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    install_problem_handlers(app)
    app.include_router(control_api.router)
    app.include_router(cloud_api.router)
    return app
