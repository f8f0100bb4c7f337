"""Spacing of sends to one user, after WhatsApp's pair rate limit (error 131056).

WhatsApp limits how fast one business number may write to one user; past it a
send is refused with 131056 ("(Business Account, Consumer Account) pair rate
limit hit"). The answer is to wait before the next message to that user, not to
slow the whole line down. ``PairPacer`` remembers, per (line, recipient), when
the next send may go, and makes a send to that pair wait until then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class PairPacer:
    """When the next send to each (line, recipient) pair may go; thread-safe."""

    def __init__(
        self,
        spacing: float,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.spacing = spacing
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def wait(self, pair: tuple[str, str]) -> float:
        """Sleep until a send to ``pair`` may go; returns the seconds waited."""
        with self._lock:
            due = self._next.get(pair)
        delay = 0.0 if due is None else due - self._monotonic()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0

    def hold(self, pair: tuple[str, str]) -> None:
        """WhatsApp said 131056 for ``pair``: no send to it for ``spacing`` seconds."""
        now = self._monotonic()
        with self._lock:
            self._next = {key: due for key, due in self._next.items() if due > now}
            self._next[pair] = max(self._next.get(pair, now), now + self.spacing)
