"""What the routes share: the running sandbox, kept in the app's state."""

from __future__ import annotations

from fastapi import Request

from wawindow.entrypoints.sandbox.sandbox import Sandbox


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox
