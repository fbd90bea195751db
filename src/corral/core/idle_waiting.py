"""The thread and queue mechanics shared by Corral's background workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class IdleWaiting:
    """For a worker thread with a queue guarded by ``_cond``: starting and stopping the thread,
    waiting for work, and :meth:`wait_idle`, which blocks until the queue is empty and nothing
    is in progress. While someone waits, ``_waiters`` is positive, which tells the worker to stop
    gathering or pausing: someone wants the results now."""

    _cond: threading.Condition
    _waiters: int
    _busy: int
    _stopping: bool
    _thread: threading.Thread | None

    def _has_queued(self) -> bool:
        raise NotImplementedError

    def _start_thread(self, work: Callable[[], None], name: str) -> None:
        self._thread = threading.Thread(target=work, name=name, daemon=True)
        self._thread.start()

    def _stop_thread(self, timeout: float) -> None:
        """Tell the worker to stop once its queue is empty, and wait for it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _wait_for_work(self) -> bool:
        """In the worker, holding ``_cond``: wait until something is queued; False when the
        worker is stopping and nothing is left."""
        while not self._has_queued() and not self._stopping:
            self._cond.wait()
        return self._has_queued()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued is done; False if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiters += 1
            self._cond.notify_all()
            try:
                while self._has_queued() or self._busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._waiters -= 1
        return True
