"""Background jobs: what ``wawindow worker`` (and ``serve``'s worker thread) run.

A job does a bounded batch of work per ``tick(now)`` and says how much it did;
the worker loop ticks again at once while there is work, and sleeps briefly
when every job answered 0. ``now`` comes from the process's clock adapter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Job(Protocol):
    @property
    def name(self) -> str: ...

    def tick(self, now: datetime) -> int:
        """Do at most one batch of what is due at ``now``; how many items it handled."""

    def close(self) -> None:
        """Release what the job holds (connections); called once, when the loop stops."""
