"""Periodic background jobs (retention, outbox delivery, rollout analysis, …).

Jobs run in a thread of the server process. Each run takes leadership first (see
:mod:`corral.db.leadership`), so with several replicas or workers exactly one runs a job at a time
and the others skip that turn. Jobs are plain functions of the runtime: tests call them directly
with a manual clock instead of waiting for the runner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corral.core.runtime import Runtime
from corral.db.leadership import lead

log = logging.getLogger("corral.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[Runtime], object]


class JobRunner:
    """Runs each job every ``interval_seconds`` in one background thread."""

    def __init__(self, rt: Runtime, jobs: Sequence[Job], *, tick_seconds: float = 0.5) -> None:
        self.rt = rt
        self.jobs = list(jobs)
        self.tick_seconds = tick_seconds
        self._next_run = {job.name: 0.0 for job in self.jobs}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.jobs and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="corral-jobs", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_due(self) -> None:
        """Run every job whose time has come (one pass)."""
        now = time.monotonic()
        for job in self.jobs:
            if self._stop.is_set() or now < self._next_run[job.name]:
                continue
            self._next_run[job.name] = now + job.interval_seconds
            try:
                with lead(self.rt.db, job.name) as leader:
                    if leader:
                        job.run(self.rt)
            except Exception:  # a failing job must not stop the others or the server
                log.exception("background job %s failed", job.name)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            self.run_due()
