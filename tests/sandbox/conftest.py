"""A real webhook receiver, and the sandbox serving on a free port and posting to it.

``sandbox`` starts with its clock frozen on Tuesday 2026-03-10 10:00 UTC (pricing
era PMP-1) and no delay between statuses; tests that need another era or other
settings start their own with ``running_sandbox(sandbox_settings(receiver, ...))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.support.sandbox import (
    RunningSandbox,
    WebhookReceiver,
    running_sandbox,
    sandbox_settings,
)

MARCH_2026 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver().running() as running:
        yield running


@pytest.fixture
def sandbox(receiver: WebhookReceiver) -> Iterator[RunningSandbox]:
    settings = sandbox_settings(receiver, start_at=MARCH_2026, frozen_clock=True, seed=7)
    with running_sandbox(settings) as running:
        yield running
