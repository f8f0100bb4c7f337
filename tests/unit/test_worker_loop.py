"""The worker loop: fast while there is work, brief sleeps when idle, never dies of a job."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import pytest

from wawindow.entrypoints.api.metrics import Metrics
from wawindow.entrypoints.worker import WorkerLoop, WorkerThread

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


class Backlog:
    """A job with ``items`` to do, ``batch`` per tick; records the times it was given."""

    name = "backlog"

    def __init__(self, items: int, batch: int = 10) -> None:
        self.left, self.batch = items, batch
        self.ticks: list[datetime] = []
        self.closed = 0

    def close(self) -> None:
        self.closed += 1

    def tick(self, now: datetime) -> int:
        self.ticks.append(now)
        done = min(self.left, self.batch)
        self.left -= done
        return done


class FailsFirst:
    """Raises on its first ``failures`` ticks, then works."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.ticks = 0

    def close(self) -> None:
        raise RuntimeError("the connection was already gone")

    def tick(self, now: datetime) -> int:
        self.ticks += 1
        if self.ticks <= self.failures:
            raise RuntimeError("database went away")
        return 0


def test_one_pass_ticks_every_job_with_the_clock() -> None:
    jobs = [Backlog(25), Backlog(0)]
    loop = WorkerLoop(jobs, lambda: NOW)
    assert loop.run_once() == 10
    assert jobs[0].ticks == [NOW]
    assert jobs[1].ticks == [NOW]


def test_the_loop_keeps_going_while_there_is_work_and_stops_when_asked() -> None:
    job = Backlog(1_000, batch=10)
    stop = threading.Event()
    # An idle sleep this long would time the test out: only work keeps the loop turning.
    loop = WorkerLoop([job], lambda: NOW, idle_seconds=60)
    thread = WorkerThread(loop)
    thread.start()
    for _ in range(400):
        if job.left == 0:
            break
        stop.wait(0.05)
    thread.stop(timeout=5)
    assert job.left == 0
    assert not thread.running  # stop() cut the idle sleep short


def test_a_failing_job_is_logged_counted_and_ticked_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky, steady = FailsFirst(2), Backlog(30)
    metrics = Metrics()
    loop = WorkerLoop([flaky, steady], lambda: NOW, metrics=metrics)
    with caplog.at_level(logging.ERROR, logger="wawindow.worker"):
        results = [loop.run_once() for _ in range(4)]
    assert results == [10, 10, 10, 0]
    assert flaky.ticks == 4
    assert sum("job flaky failed" in r.getMessage() for r in caplog.records) == 2
    errors = metrics.registry.get_sample_value("wawindow_worker_errors_total", {"job": "flaky"})
    ticks = metrics.registry.get_sample_value(
        "wawindow_worker_tick_seconds_count", {"job": "backlog"}
    )
    assert errors == 2
    assert ticks == 4


def test_the_loop_closes_every_job_when_it_stops_even_after_one_fails_to() -> None:
    backlog = Backlog(0)
    loop = WorkerLoop([FailsFirst(0), backlog], lambda: NOW, idle_seconds=0.01)
    stop = threading.Event()
    stop.set()

    loop.run(stop)

    assert backlog.closed == 1
