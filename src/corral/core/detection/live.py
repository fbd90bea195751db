"""Detection as spans arrive: each session a committed batch touches is judged again.

The span store calls its listeners after every commit (``rt.span_listeners``). By default the
listener only queues the touched sessions — (project, session) pairs, deduplicated — for one
worker thread per process, so ingest answers as soon as its spans are durable and a burst of
batches for one session costs one detection pass. ``CORRAL_DETECTION_MODE=inline`` judges them
on the ingest request instead, and ``off`` not at all. The worker lets batches gather for
``CORRAL_DETECTION_GATHER_MS`` after the first one, so that calls of one session committed one
after another (the gateway's) share a pass.

The queue is bounded (``CORRAL_DETECTION_QUEUE_SESSIONS``): when it is full, the listener waits
for room for up to :data:`QUEUE_WAIT_SECONDS` — back-pressure on ingest rather than silently
skipped sessions — and only then gives up on that session (logged and counted) until its next
batch. A pass reads the session's latest spans (see :mod:`corral.core.detection.spans`) — in the
background, only those it does not hold already (:mod:`corral.core.detection.held`) — runs
:func:`~corral.core.detection.engine.detect`, and writes only when something is new or changed.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from corral.core.detection.baseline import BaselineCache
from corral.core.detection.engine import DetectionContext, detect
from corral.core.detection.held import Held, HeldSessions
from corral.core.detection.memory import memory_context
from corral.core.detection.model import Finding
from corral.core.detection.settings_store import settings_resolver
from corral.core.detection.spans import SessionSpans, load_scopes, scope_of
from corral.core.detection.store import (
    StoredFinding,
    existing_findings,
    plan_changes,
    store_findings,
)
from corral.core.group_commit import writers_waiting
from corral.core.idle_waiting import IdleWaiting
from corral.core.runtime import Runtime
from corral.core.span_store import StoredBatch
from corral.db.schema import ProjectRow
from corral.schemas.detection import DetectorSettings

log = logging.getLogger("corral.detection")

EXTENSION = "detection"
"""Key of the running detector in ``rt.extensions``."""
QUEUE_WAIT_SECONDS = 5.0
PASS_SESSIONS = 200
"""Queued sessions the worker takes at once: read and judged in one pass (each session's
findings are written in a transaction of its own)."""
PAUSE_PER_PASS = 1.0
"""After a pass, the worker waits this many times the pass's duration before the next one. It
shares the process (and its interpreter lock) with ingest: with sessions always queued it then
takes at most about half of the time, and the sessions queued meanwhile are judged together,
once each. Passes at an ordinary load take a few milliseconds, and so does the pause. While
ingest is queued for the database the pause is longer (``CORRAL_DETECTION_SHARE_UNDER_LOAD``)."""


def detect_scope(
    rt: Runtime, project_id: int, scope: str, *, baselines: BaselineCache | None = None
) -> list[StoredFinding]:
    """One detection pass over a session (or a sessionless trace): the findings it stored."""
    return detect_scopes(rt, project_id, [scope], baselines=baselines)


def detect_scopes(
    rt: Runtime,
    project_id: int,
    scopes: Sequence[str],
    *,
    baselines: BaselineCache | None = None,
    memory: HeldSessions | None = None,
) -> list[StoredFinding]:
    """One detection pass over sessions of a project: the findings it stored (new or changed).

    Reads everything it needs in one read transaction; opens a write one for each session with
    a finding that is new or differs from what is stored. With ``memory``, sessions it holds
    entirely are not read, and those read are held from then on."""
    cache = baselines or BaselineCache(ttl_seconds=0)
    planned: list[tuple[SessionSpans, list[Finding], DetectorSettings]] = []
    # Collected before the read transaction begins: held spans are then all in what it reads.
    held = memory.collect(project_id, scopes) if memory is not None else None
    with rt.db.read() as uow:
        loaded = load_scopes(uow, project_id, scopes, held=held)
        if memory is not None and held is not None:
            _hold(memory, project_id, loaded, held)
        if not loaded:
            return []
        settings_of = settings_resolver(uow, project_id)
        decisions, constraints = memory_context(uow, project_id)
        stored = existing_findings(uow, project_id, list(loaded))
        now = rt.clock.now()
        for scope, spans in loaded.items():
            settings = settings_of(spans.agent)
            if not spans.spans or not settings.enabled:
                continue
            baseline = cache.get(uow, project_id, spans.agent, now) if spans.agent else None
            context = DetectionContext(
                settings=settings,
                baseline=baseline,
                constraints=constraints,
                decisions=decisions,
                totals=spans.totals,
            )
            findings = detect(spans.spans, context)
            if plan_changes(stored[scope], findings, spans):
                planned.append((spans, findings, settings))
            _let_others_run()
    results: list[StoredFinding] = []
    # One write transaction per session: a pass over many sessions in one would keep the single
    # write slot (SQLite) for as long as all of them take — a hundred milliseconds and more when
    # many findings raise alerts — while gateway calls and ingest wait for it.
    for spans, findings, settings in planned:
        with rt.db.write() as uow:
            project = uow.get_one(ProjectRow, project_id)
            # Locked as they are read: the rows to update need no further query.
            locked = existing_findings(uow, project_id, [spans.scope], lock=True)[spans.scope]
            changes = plan_changes(locked, findings, spans)
            results += store_findings(
                uow, project, spans, changes, settings, rt.clock.now(), locked=locked
            )
    return results


def _let_others_run() -> None:
    """Hand the interpreter lock to a thread waiting for it, between two sessions. Judging is
    pure Python: a pass over many sessions would otherwise keep the lock for up to the switch
    interval at a time, and the event loop serving gateway calls would wait that long for each
    step of a call (a sleep of zero lets the waiting thread in at once)."""
    time.sleep(0)


def _hold(
    memory: HeldSessions, project_id: int, loaded: dict[str, SessionSpans], held: dict[str, Held]
) -> None:
    """Hold the sessions a pass read from the database, for the next passes to build on."""
    for scope in held.keys() - loaded.keys():
        memory.forget(project_id, scope)  # gone (purged)
    for scope, spans in loaded.items():
        if spans.session_id is None:
            continue
        if spans.totals is not None:
            memory.forget(project_id, scope)  # longer than the window: read each time
        elif scope not in held or spans.spans is not held[scope].views:
            memory.replace(project_id, scope, spans.spans)


def touched_scopes(batch: StoredBatch) -> list[str]:
    """The sessions (or sessionless traces) of a batch, in first-seen order."""
    return list(dict.fromkeys(scope_of(s.session_id, s.trace_id) for s in batch.spans))


@dataclass
class DetectorStats:
    passes: int = 0
    sessions: int = 0
    failures: int = 0
    dropped: int = 0
    seconds: float = 0.0
    max_queued: int = 0


class Detector(IdleWaiting):
    """Runs detection for the batches the span store commits, in one of the three modes."""

    def __init__(
        self,
        rt: Runtime,
        *,
        mode: str,
        capacity: int,
        queue_wait_seconds: float = QUEUE_WAIT_SECONDS,
        gather_seconds: float = 0.0,
        memory_bytes: int = 0,
        share_under_load: float = 0.5,
    ) -> None:
        self.rt = rt
        # Judging is elastic: with sessions always queued it takes whatever time it is given,
        # so under an ingest load beyond capacity its share is what bounds the cost to ingest.
        self.pause_under_load = (1.0 - share_under_load) / share_under_load
        self.mode = mode
        self.capacity = capacity
        self.queue_wait_seconds = queue_wait_seconds
        self.gather_seconds = gather_seconds
        self.stats = DetectorStats()
        self.baselines = BaselineCache()
        # Only the background worker holds sessions: it runs one pass at a time.
        self.memory = HeldSessions(memory_bytes) if mode == "background" and memory_bytes else None
        self._pending: dict[tuple[int, str], None] = {}
        self._busy = 0
        self._waiters = 0
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # --- the span listener ---------------------------------------------------------------------

    def on_batch(self, batch: StoredBatch) -> None:
        """The span listener: never raises (a failure is logged, ingest is already durable)."""
        try:
            scopes = touched_scopes(batch)
            if self.mode == "inline":
                self._run_pass(batch.project_id, scopes)
            elif self.mode == "background":
                if self.memory is not None:
                    self.memory.add(batch.project_id, batch.spans)
                self._enqueue(batch.project_id, scopes)
        except Exception:
            log.exception("detection listener failed for project %s", batch.project_id)

    def _enqueue(self, project_id: int, scopes: list[str]) -> None:
        with self._cond:
            for scope in scopes:
                key = (project_id, scope)
                if key in self._pending:
                    continue  # queued already: its pass will read these spans too
                deadline = time.monotonic() + self.queue_wait_seconds
                while len(self._pending) >= self.capacity and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if len(self._pending) >= self.capacity:
                    self.stats.dropped += 1
                    log.warning(
                        "detection queue full (%d sessions): session %r of project %s is "
                        "judged at its next batch",
                        self.capacity,
                        scope,
                        project_id,
                    )
                    continue
                self._pending[key] = None
            self.stats.max_queued = max(self.stats.max_queued, len(self._pending))
            self._cond.notify_all()

    @property
    def queued(self) -> int:
        """Sessions waiting for a pass."""
        with self._cond:
            return len(self._pending)

    # --- the worker ----------------------------------------------------------------------------

    def start(self) -> None:
        self.rt.span_listeners.append(self.on_batch)
        self.rt.extensions[EXTENSION] = self
        if self.mode == "background":
            self._start_thread(self._work, "corral-detection")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening; the worker finishes what is queued (within ``timeout``)."""
        if self.on_batch in self.rt.span_listeners:
            self.rt.span_listeners.remove(self.on_batch)
        if self.rt.extensions.get(EXTENSION) is self:
            del self.rt.extensions[EXTENSION]
        self.wait_idle(timeout)
        self._stop_thread(timeout)

    def _has_queued(self) -> bool:
        return bool(self._pending)

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._wait_for_work():
                    return
                self._gather()
                # The oldest queued sessions, judged together (one pass per project).
                taken = list(itertools.islice(self._pending, PASS_SESSIONS))
                for key in taken:
                    del self._pending[key]
                self._busy += 1
                self._cond.notify_all()  # room in the queue
            began = time.monotonic()
            under_load = writers_waiting(self.rt)
            try:
                by_project: dict[int, list[str]] = {}
                for project_id, scope in taken:
                    by_project.setdefault(project_id, []).append(scope)
                for project_id, scopes in by_project.items():
                    self._run_pass(project_id, scopes)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
            self._pause(began, under_load=under_load or writers_waiting(self.rt))

    def _pause(self, began: float, *, under_load: bool = False) -> None:
        """Wait :data:`PAUSE_PER_PASS` times as long as the pass begun at ``began`` took, or
        longer when ingest was queued for the database during it (``under_load``)."""
        factor = self.pause_under_load if under_load else PAUSE_PER_PASS
        resume = time.monotonic() + (time.monotonic() - began) * factor
        with self._cond:
            while (
                not self._stopping and not self._waiters and (left := resume - time.monotonic()) > 0
            ):
                self._cond.wait(left)

    def _gather(self) -> None:
        """Wait for more batches (the queue stays open meanwhile), up to ``gather_seconds`` or a
        full pass: the gateway commits a session's calls one by one, and each would otherwise
        cost a pass of its own."""
        deadline = time.monotonic() + self.gather_seconds
        while not self._stopping and not self._waiters and len(self._pending) < PASS_SESSIONS:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _run_pass(self, project_id: int, scopes: list[str]) -> None:
        began = time.perf_counter()
        try:
            detect_scopes(self.rt, project_id, scopes, baselines=self.baselines, memory=self.memory)
        except Exception:
            self.stats.failures += 1
            log.exception("detection failed for %d sessions of project %s", len(scopes), project_id)
        finally:
            self.stats.passes += 1
            self.stats.sessions += len(scopes)
            self.stats.seconds += time.perf_counter() - began


def start_detection(rt: Runtime) -> Detector:
    """Subscribe detection to the span store of this runtime (the app does it at start-up)."""
    detector = Detector(
        rt,
        mode=rt.settings.detection_mode,
        capacity=rt.settings.detection_queue_sessions,
        gather_seconds=rt.settings.detection_gather_ms / 1000,
        memory_bytes=int(rt.settings.detection_memory_mb * 1024 * 1024),
        share_under_load=rt.settings.detection_share_under_load,
    )
    detector.start()
    return detector


def running_detector(rt: Runtime) -> Detector | None:
    """The detector subscribed to this runtime, if any (tests and benchmarks wait on it)."""
    found = rt.extensions.get(EXTENSION)
    return found if isinstance(found, Detector) else None
