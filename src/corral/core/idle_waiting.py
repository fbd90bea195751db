"""Waiting for a background worker to drain its queue."""

from __future__ import annotations

import threading
import time


class IdleWaiting:
    """For a worker thread with a queue guarded by ``_cond``: :meth:`wait_idle` blocks until the
    queue is empty and nothing is in progress. While someone waits, ``_waiters`` is positive,
    which tells the worker to stop gathering or pausing: someone wants the results now."""

    _cond: threading.Condition
    _waiters: int
    _busy: int

    def _has_queued(self) -> bool:
        raise NotImplementedError

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
