"""Gateway calls settled and recorded by a worker thread, a moment after they answer.

Once the provider has answered, the client has what it asked for: settling the call's hold and
writing its span need not delay the answer, nor the agent's next call. Each finished call is
queued; one worker per process waits ``CORRAL_GATEWAY_RECORD_DELAY_MS`` after the first one, so
that an agent's next call takes the database first and calls finishing together are written in
one transaction (one commit, one span insert, one settlement pass), then writes them.

``corral serve`` writes the batches from a process of its own
(:mod:`corral.core.record_process`): the worker thread turns them into plain data, hands them
over and waits. Elsewhere (tests, an app built in another program) the thread writes them.

A call whose process dies before its record is written keeps its hold: the budget stays
charged the call's worst case — never less than it cost — until the hold expires
(``RESERVATION_TTL``) and the ``budget-expiry`` job counts it as spent. Shutting down
writes everything queued first.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures.process import BrokenProcessPool

from corral.core.gateway import FinishedCall, record_calls, recorded_calls, write_recorded
from corral.core.idle_waiting import IdleWaiting
from corral.core.record_process import RecordProcess
from corral.core.runtime import Runtime

log = logging.getLogger("corral.gateway")

EXTENSION = "gateway_recorder"
"""Key of the running recorder in ``rt.extensions``."""
MAX_BATCH = 256
"""Calls written in one transaction at most."""


class CallRecorder(IdleWaiting):
    """Queues finished calls and writes them in batches from one worker thread."""

    def __init__(
        self, rt: Runtime, *, delay_seconds: float, process: RecordProcess | None = None
    ) -> None:
        self.rt = rt
        self.delay_seconds = delay_seconds
        self.process = process
        self.batches = 0
        self._queue: list[FinishedCall] = []
        self._busy = 0
        self._waiters = 0
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, call: FinishedCall) -> None:
        """Queue a finished call; once the recorder is stopping, write it here instead."""
        with self._cond:
            if not self._stopping:
                self._queue.append(call)
                self._cond.notify_all()
                return
        self._write([call])

    def start(self) -> None:
        if self.process is not None:
            self.process.start()
        self.rt.extensions[EXTENSION] = self
        self._start_thread(self._work, "corral-gateway-recorder")

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop (new calls are then recorded by their requests)."""
        if self.rt.extensions.get(EXTENSION) is self:
            del self.rt.extensions[EXTENSION]
        self._stop_thread(timeout)
        if self.process is not None:
            self.process.stop()

    def _has_queued(self) -> bool:
        return bool(self._queue)

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._wait_for_work():
                    return
                deadline = time.monotonic() + self.delay_seconds
                while not (self._stopping or self._waiters or len(self._queue) >= MAX_BATCH):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                self._busy = 1
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._busy = 0
                    self._cond.notify_all()

    def _write(self, batch: list[FinishedCall]) -> None:
        self.batches += 1
        try:
            self._record(batch)
            return
        except Exception:
            if len(batch) == 1:
                log.exception("recording a gateway call failed (its hold is settled)")
                return
        # One call's record can fail the whole batch: record each alone, losing only that one.
        for call in batch:
            try:
                self._record([call])
            except Exception:
                log.exception("recording a gateway call failed (its hold is settled)")

    def _record(self, batch: list[FinishedCall]) -> None:
        if self.process is None:
            record_calls(self.rt, batch)
            return
        recorded = recorded_calls(self.rt, batch)
        try:
            self.process.write(recorded)
        except BrokenProcessPool:
            log.warning("the gateway's record process died; this batch is written here")
            write_recorded(self.rt, recorded)


def start_recorder(rt: Runtime, *, own_process: bool = False) -> CallRecorder | None:
    """Record this runtime's gateway calls in the background (the app does it at start-up);
    None when ``CORRAL_GATEWAY_RECORD_DELAY_MS`` is 0 and each request records its call.
    ``own_process``: the writes are made from a process of their own."""
    if rt.settings.gateway_record_delay_ms <= 0:
        return None
    recorder = CallRecorder(
        rt,
        delay_seconds=rt.settings.gateway_record_delay_ms / 1000,
        process=RecordProcess(rt.settings) if own_process else None,
    )
    recorder.start()
    return recorder


def running_recorder(rt: Runtime) -> CallRecorder | None:
    """The recorder of this runtime, if one runs (tests and benchmarks wait on it)."""
    found = rt.extensions.get(EXTENSION)
    return found if isinstance(found, CallRecorder) else None
