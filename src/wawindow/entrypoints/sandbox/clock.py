"""The sandbox's clock: the wall clock moved by an offset, or frozen at an instant.

Every time the sandbox writes (webhook timestamps, its view of the windows, the
pricing era) comes from this clock, so a test or a demo can jump a day ahead
(``POST /sandbox/clock {"advance_seconds": 86400}``, or ``--time-offset 24h`` at
start) instead of waiting. A frozen clock moves only when told to, which makes the
bodies the sandbox posts the same from run to run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from wawindow.domain.times import to_utc

WallClock = Callable[[], datetime]

_UNITS: Final = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION: Final = re.compile(r"([+-]?)((?:\d+(?:\.\d+)?[dhms])+|\d+(?:\.\d+)?)")
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def wall_clock() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """``24h``, ``-3d``, ``90m``, ``1d12h``, ``45s`` or plain seconds (``3600``)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (examples: 24h, -3d, 90m, 1d12h, 3600)")
    sign, amount = match.groups()
    if amount[-1].isdigit():
        seconds = float(amount)
    else:
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(amount))
    return timedelta(seconds=-seconds if sign == "-" else seconds)


class SandboxClock:
    """``now()`` is the wall clock plus ``offset``, or the frozen instant.

    ``advance`` moves it forward (or back) by some seconds either way;
    ``set_offset`` and ``set_at`` put it at an offset from the wall clock or at an
    instant; ``freeze``/``thaw`` stop and restart it where it stands.
    """

    def __init__(
        self,
        wall: WallClock = wall_clock,
        offset: timedelta = timedelta(0),
        frozen_at: datetime | None = None,
    ) -> None:
        self._wall = wall
        self._offset = offset
        self._frozen_at = None if frozen_at is None else to_utc(frozen_at)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> datetime:
        """The sandbox's instant, to the second (WhatsApp timestamps are whole seconds)."""
        if self._frozen_at is not None:
            return self._frozen_at
        return to_utc(self._wall() + self._offset)

    def offset(self) -> timedelta:
        """How far the sandbox's clock is from the wall clock, to the second."""
        return self.now() - to_utc(self._wall())

    def advance(self, seconds: float) -> None:
        step = timedelta(seconds=seconds)
        if self._frozen_at is not None:
            self._frozen_at = to_utc(self._frozen_at + step)
        self._offset += step

    def set_offset(self, seconds: float) -> None:
        self._offset = timedelta(seconds=seconds)
        if self._frozen_at is not None:
            self._frozen_at = to_utc(self._wall() + self._offset)

    def set_at(self, at: datetime) -> None:
        if self._frozen_at is not None:
            self._frozen_at = to_utc(at)
        self._offset = to_utc(at) - self._wall()

    def freeze(self) -> None:
        self._frozen_at = self.now()

    def thaw(self) -> None:
        if self._frozen_at is not None:
            self._offset = self._frozen_at - self._wall()
            self._frozen_at = None
