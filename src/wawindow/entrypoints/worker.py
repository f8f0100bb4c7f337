"""The worker loop: runs the background jobs (``Services.worker_jobs()``) until told to stop.

Each pass ticks every job once with the clock adapter's ``now``. While some job
had work the next pass starts after ``busy_pause_seconds`` (10 ms: room for the
request threads, and on SQLite for other writers, between batches); when none
had, the loop sleeps ``idle_seconds`` (0.5 s by default), so a due event goes
out within about that long. A job that raises is logged and counted, and ticked again on the next
pass: the loop itself never dies of a job's error.

``wawindow worker`` runs the loop in its main thread until SIGTERM or SIGINT;
``wawindow serve`` runs it in one background thread per process (``WorkerThread``,
started by the app's lifespan) unless ``--no-worker`` or ``WAWINDOW_WORKER=0``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from wawindow.bootstrap import Services
from wawindow.entrypoints.api.metrics import Metrics
from wawindow.service.jobs import Job

logger = logging.getLogger("wawindow.worker")


class WorkerLoop:
    def __init__(
        self,
        jobs: Sequence[Job],
        clock: Callable[[], datetime],
        idle_seconds: float = 0.5,
        metrics: Metrics | None = None,
        busy_pause_seconds: float = 0.01,
    ) -> None:
        self.jobs = list(jobs)
        self._clock = clock
        self.idle_seconds = idle_seconds
        self.busy_pause_seconds = busy_pause_seconds
        self._metrics = metrics

    def run(self, stop: threading.Event) -> None:
        """Pass over the jobs until ``stop`` is set (it also cuts a sleep short)."""
        logger.info("worker started: %s", ", ".join(job.name for job in self.jobs))
        while not stop.is_set():
            done = self.run_once()
            stop.wait(self.busy_pause_seconds if done else self.idle_seconds)
        self.close()
        logger.info("worker stopped")

    def close(self) -> None:
        for job in self.jobs:
            try:
                job.close()
            except Exception:
                logger.exception("job %s did not close cleanly", job.name)

    def run_once(self) -> int:
        """Tick every job once; the work they did (a failed tick counts as none)."""
        return sum(self._tick(job) for job in self.jobs)

    def _tick(self, job: Job) -> int:
        started = time.perf_counter()
        try:
            done = job.tick(self._clock())
        except Exception:
            logger.exception("job %s failed; it runs again on the next pass", job.name)
            if self._metrics is not None:
                self._metrics.worker_errors.labels(job=job.name).inc()
            return 0
        if self._metrics is not None:
            elapsed = time.perf_counter() - started
            self._metrics.worker_tick_seconds.labels(job=job.name).observe(elapsed)
        return done


def worker_loop(services: Services) -> WorkerLoop:
    """The loop of ``services``' jobs, on its clock (read at each tick: it is settable)."""
    return WorkerLoop(
        services.worker_jobs(),
        lambda: services.clock(),
        services.settings.worker_idle_seconds,
        services.metrics,
    )


class WorkerThread:
    """The loop in a daemon thread, for ``serve``: ``start()``, then ``stop()`` at shutdown."""

    def __init__(self, loop: WorkerLoop) -> None:
        self._loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=loop.run, args=(self._stop,), name="wawindow-worker", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop and wait for the tick in progress to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
