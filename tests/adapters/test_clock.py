"""wawindow following a sandbox's clock (``WAWINDOW_CLOCK_URL``), against a real sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.sandbox import WebhookReceiver, running_sandbox, sandbox_settings
from wawindow.adapters.clock import SandboxClock

WALL = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_clock_follows_the_sandbox_offset_after_the_refresh_interval() -> None:
    ticks = Ticks()
    with (
        WebhookReceiver().running() as receiver,
        running_sandbox(sandbox_settings(receiver)) as sandbox,
    ):
        clock = SandboxClock(sandbox.base_url, refresh=1.0, wall=lambda: WALL, monotonic=ticks)
        assert clock() == WALL

        sandbox.advance(86_400)
        ticks.now = 0.5
        assert clock() == WALL, "read again only after the refresh interval"
        ticks.now = 1.0
        assert clock() == WALL + timedelta(days=1)


def test_a_frozen_sandbox_gives_its_instant() -> None:
    with (
        WebhookReceiver().running() as receiver,
        running_sandbox(sandbox_settings(receiver)) as sandbox,
    ):
        answer = sandbox.client.post(
            "/sandbox/clock", json={"at": "2025-07-02T09:30:00Z", "frozen": True}
        )
        assert answer.status_code == 200, answer.text

        clock = SandboxClock(sandbox.base_url, refresh=0.0, wall=lambda: WALL)

        assert clock() == datetime(2025, 7, 2, 9, 30, tzinfo=UTC)


def test_an_unreachable_sandbox_keeps_the_last_offset() -> None:
    ticks = Ticks()
    with (
        WebhookReceiver().running() as receiver,
        running_sandbox(sandbox_settings(receiver)) as sandbox,
    ):
        clock = SandboxClock(sandbox.base_url, refresh=1.0, wall=lambda: WALL, monotonic=ticks)
        sandbox.advance(3_600)
        assert clock() == WALL + timedelta(hours=1)
    ticks.now = 5.0

    assert clock() == WALL + timedelta(hours=1)
