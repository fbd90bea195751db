"""Gateway calls settled and recorded from a process of their own.

What a gateway call leaves behind — its span written, its hold settled, its session judged by
the detectors — costs the interpreter more than answering the call did. In the server process
the threads doing it share the interpreter lock with the event loop that answers calls, which
waits for the lock behind them. On PostgreSQL it is worse: a settlement locks its budget
counters, and while its thread waits for the interpreter between statements, the next calls'
holds wait for those locks; on SQLite, for the one write slot the writing thread keeps. Measured
at 128 concurrent calls, the gateway added a median of 8 ms on PostgreSQL with this process
against 18 to 36 ms without it, and on SQLite 11 to 14 ms against 35 to 46 ms.

``corral serve`` (see ``CORRAL_GATEWAY_RECORDER``) therefore hands each batch of
finished calls — plain data: their spans, priced, and their settlements, see
:func:`~corral.core.gateway.recorded_calls` — to this process, which writes it on a runtime of its
own and runs the detectors over the sessions it wrote. The server's recorder thread waits for the
answer without holding the interpreter lock, so what is queued and what
:meth:`~corral.core.gateway_recorder.CallRecorder.wait_idle` reports are unchanged. Should the
process die, the batch it was writing is written by the recorder's thread (a span already stored
is not stored twice, a hold already settled is left alone) and the next batch starts a new
process; the process exits with the server, however the server ends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from corral.core.detection.live import Detector, start_detection
from corral.core.gateway import RecordedCall, write_recorded
from corral.core.runtime import Runtime
from corral.db.spawned import SpawnedProcess
from corral.settings import Settings

log = logging.getLogger("corral.gateway")

STOP_SECONDS = 60.0
"""How long stopping waits for the detectors to judge what was recorded last."""


class RecordProcess:
    """The process recording the gateway's calls, and the way to it."""

    def __init__(self, settings: Settings) -> None:
        self.process = SpawnedProcess(_open, (settings,))

    def start(self) -> None:
        """Start the process now (it takes a moment to import), not on the first batch."""
        self.process.start()

    def write(self, recorded: Sequence[RecordedCall]) -> None:
        """Write ``recorded`` there and wait for it to commit.

        Raises:
            BrokenProcessPool: The process died (the batch may or may not be written; the next
                one starts a new process).
            Exception: What the write raised.
        """
        self.process.submit(_write, list(recorded)).result()

    def stop(self) -> None:
        """Let the detectors finish, then end the process."""
        try:
            self.process.stop(_close, STOP_SECONDS)
        except Exception:
            log.exception("stopping the gateway's record process failed")


# --- in the record process -------------------------------------------------------------------

_runtime: Runtime | None = None
_detector: Detector | None = None


def _open(settings: Settings) -> None:
    global _runtime, _detector
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    _runtime = Runtime.from_settings(settings)
    _detector = start_detection(_runtime)


def _write(recorded: list[RecordedCall]) -> None:
    assert _runtime is not None
    write_recorded(_runtime, recorded)


def _close() -> None:
    global _runtime, _detector
    if _detector is not None:
        _detector.stop()
    if _runtime is not None:
        _runtime.db.dispose()
    _runtime = _detector = None
