"""When a failed webhook delivery is tried again, when it is given up, and when an
endpoint that keeps failing is disabled (DESIGN 2.4).

Exponential backoff with jitter: the n-th failed attempt of a round waits
``5 s × 4^(n-1)``, at most 6 hours, lengthened by up to a quarter at random (and
rounded up to a whole second) so that deliveries failing together do not retry
together. Jitter only ever lengthens a wait, so the schedule never becomes
shorter than its nominal one.

A round of attempts (the first delivery, or a redelivery) is given up once an
attempt fails at least ``RETRY_PERIOD`` (24 hours) after the round's first
attempt: retries go on for at least 24 hours, whatever the jitter. The nominal
schedule tries at 0 s, 5 s, 25 s, 1 min 45 s, 7 min, 28 min, 1.9 h, 7.6 h,
13.6 h, 19.6 h and 25.6 h: eleven attempts.

An endpoint whose attempts have failed continuously (no success in between) for
``DISABLE_AFTER`` (3 days) is disabled; its owner can enable it again and
redeliver what it missed.

Pure: the time and the random draw are arguments.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

FIRST_WAIT: Final = timedelta(seconds=5)
GROWTH: Final = 4
LONGEST_WAIT: Final = timedelta(hours=6)
JITTER: Final = 0.25  # a wait is lengthened by up to this fraction
RETRY_PERIOD: Final = timedelta(hours=24)
DISABLE_AFTER: Final = timedelta(days=3)


def retry_wait(failed_attempts: int, draw: float) -> timedelta:
    """How long to wait after the ``failed_attempts``-th failure of a round.

    ``draw`` is a random number in [0, 1): 0 gives the nominal wait.
    """
    if failed_attempts < 1:
        raise ValueError(f"failed_attempts counts from 1, not {failed_attempts}")
    if not 0.0 <= draw < 1.0:
        raise ValueError(f"draw must be in [0, 1), not {draw}")
    # Capped before the power grows big: 4^13 × 5 s is already past the cap.
    exponent = min(failed_attempts - 1, 16)
    nominal: timedelta = min(FIRST_WAIT * int(GROWTH**exponent), LONGEST_WAIT)
    # Whole seconds, rounded up: wawindow's instants have second precision.
    return timedelta(seconds=math.ceil(nominal.total_seconds() * (1 + JITTER * draw)))


def next_attempt_at(
    round_started_at: datetime, failed_at: datetime, failed_attempts: int, draw: float
) -> datetime | None:
    """When to try again after a failure at ``failed_at``; ``None`` to give the round up.

    ``failed_attempts`` counts the failures of this round, the one at ``failed_at``
    included; ``round_started_at`` is the time of the round's first attempt.
    """
    if failed_at - round_started_at >= RETRY_PERIOD:
        return None
    return failed_at + retry_wait(failed_attempts, draw)


def should_disable(failing_since: datetime, failed_at: datetime) -> bool:
    """Whether an endpoint failing since ``failing_since`` is disabled by this failure."""
    return failed_at - failing_since >= DISABLE_AFTER
