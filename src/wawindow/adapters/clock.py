"""Clocks: the system's, or a sandbox's read over HTTP.

Everything in wawindow that asks "what time is it" (session status, the send
gate, the scheduler) goes through ``Services.clock``. In production that is the
system clock. For a demo or an end-to-end test, ``WAWINDOW_CLOCK_URL`` names a
``wawindow sandbox``; wawindow then follows the sandbox's clock, so one
``POST /sandbox/clock {"advance_seconds": 86400}`` moves both sides a day ahead
and windows close without waiting a day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

log = logging.getLogger(__name__)


def system_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class SandboxClock:
    """The sandbox's ``now``: its offset from the wall clock, or the instant it is frozen at.

    The offset is read from ``GET {url}/sandbox/clock`` at most every ``refresh``
    seconds (a clock read must stay cheap on every request). If the sandbox cannot
    be reached, the last offset read stays in force and a warning is logged.
    """

    def __init__(
        self,
        url: str,
        refresh: float = 0.2,
        wall: Callable[[], datetime] = system_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url.rstrip("/") + "/sandbox/clock"
        self._refresh = refresh
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        self._read_at: float | None = None

    def __call__(self) -> datetime:
        with self._lock:
            stamp = self._monotonic()
            if self._read_at is None or stamp - self._read_at >= self._refresh:
                self._read(stamp)
            if self._frozen_at is not None:
                return self._frozen_at
            return self._wall() + self._offset

    def _read(self, stamp: float) -> None:
        try:
            answer = httpx.get(self._url, timeout=2.0)
            answer.raise_for_status()
            clock = answer.json()
            self._offset = timedelta(seconds=int(clock["offset_seconds"]))
            frozen = bool(clock["frozen"])
            self._frozen_at = datetime.fromisoformat(clock["now"]) if frozen else None
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as error:
            log.warning("cannot read the sandbox clock at %s: %s", self._url, error)
        self._read_at = stamp
