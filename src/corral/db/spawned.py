"""A helper process the server starts for one kind of work, started anew if it dies.

The SQLite write process (:mod:`corral.db.write_process`) and the gateway's record process
(:mod:`corral.core.record_process`) are both one worker process, spawned rather than forked (the
server has threads, and a fork would copy their locks), set up once by an initializer, and exiting
with the server however the server ends.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any


class SpawnedProcess:
    """One worker process, started on first use (or :meth:`start`). Work submitted while it dies
    fails with :class:`BrokenProcessPool`; the next submission starts a new process.

    Args:
        initializer: Run once in each new process, with ``initargs``.
        initargs: Its arguments (pickled into the process).
    """

    def __init__(self, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
        self._initializer = initializer
        self._initargs = initargs
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the process now (it takes a moment to import), not on the first submission."""
        self.submit(_ping).result()

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``function(*args)`` in the process (both pickled)."""
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exiting_with_parent,
                    initargs=(self._initializer, *self._initargs),
                )
            executor = self._executor
        try:
            future = executor.submit(function, *args)
        except BrokenProcessPool:
            self._forget(executor)
            raise
        future.add_done_callback(lambda done: self._forget_if_broken(executor, done))
        return future

    def stop(self, last: Callable[[], None] | None = None, timeout: float = 60.0) -> None:
        """Run ``last`` there (within ``timeout``), then end the process once what was submitted
        is done."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            if last is not None:
                executor.submit(last).result(timeout)
        finally:
            executor.shutdown(wait=True, cancel_futures=False)

    def _forget_if_broken(self, executor: ProcessPoolExecutor, done: Future[Any]) -> None:
        if not done.cancelled() and isinstance(done.exception(), BrokenProcessPool):
            self._forget(executor)

    def _forget(self, executor: ProcessPoolExecutor) -> None:
        """Drop a broken pool: the next submission starts a new process."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False)

    @property
    def pid(self) -> int | None:
        """The running process's id, if one runs (tests end it this way)."""
        with self._lock:
            executor = self._executor
        processes = list(getattr(executor, "_processes", None) or {})
        return int(processes[0]) if processes else None


def _ping() -> bool:
    return True


def _exiting_with_parent(initializer: Callable[..., None], *initargs: Any) -> None:
    """Exit when the server process does, however it ends (killed, it cannot say so): work under
    way is then dropped, and was not acknowledged. Then set the process up."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    initializer(*initargs)


def _exit_with(parent: int) -> None:
    multiprocessing.connection.wait([parent])
    os._exit(0)
