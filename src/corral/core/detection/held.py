"""Sessions the detection worker keeps in memory, so that a pass reads only what is new.

The span listener hands over each committed batch (:meth:`HeldSessions.add`); a pass then
merges a session's new spans into its held views (:meth:`HeldSessions.collect`) instead of
reading the whole session again. Held spans are trusted only when they are all of the session:
the pass compares their number with the session rollup's span count, which is committed with
the spans, and reads the session from the database when they differ (another replica wrote to
it, it was purged, or it was evicted meanwhile). Spans are copied before that count is read, so
every held span is already in what the count counts, and equal numbers mean equal sets.

Steps are positions in the timeline, ordered by start time and then by storage order. Held
spans know the storage order only within one batch (it is insertion order); when spans of two
batches start at the same instant, the session is read from the database, which knows it.

Memory is bounded by an estimate of the held bytes: the least recently used sessions go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from corral.core.detection.model import SpanView
from corral.core.detection.spans import span_view

SPAN_OVERHEAD_BYTES = 1000
"""Estimated bytes of a held span besides its texts (the view object and its fields)."""

_TEXTS = ("tool_arguments", "tool_result", "output_text", "error_message")

Key = tuple[int, str]
"""(project id, session id)."""


def _size(span: Any) -> int:
    return SPAN_OVERHEAD_BYTES + sum(len(getattr(span, name) or "") for name in _TEXTS)


@dataclass
class _Session:
    views: list[SpanView] = field(default_factory=list)
    ids: set[tuple[str, str]] = field(default_factory=set)
    batches: list[list[Any]] = field(default_factory=list)
    """Spans not merged yet, batch by batch, as the listener handed them over."""
    exact: bool = True
    """False once two batches hold spans starting at the same instant (order unknown)."""
    size: int = 0


@dataclass(frozen=True)
class Held:
    """A session's spans as held: its views in timeline order, if their order is known."""

    views: list[SpanView]
    exact: bool


class HeldSessions:
    """The latest sessions' views, by (project, session), within ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._sessions: OrderedDict[Key, _Session] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def add(self, project_id: int, spans: Iterable[Any]) -> None:
        """Hand over the spans of a committed batch (``NormalizedSpan`` with a session)."""
        by_session: dict[str, list[Any]] = {}
        for span in spans:
            if span.session_id is not None:
                by_session.setdefault(span.session_id, []).append(span)
        if not by_session or self.max_bytes <= 0:
            return
        with self._lock:
            for session_id, members in by_session.items():
                key = (project_id, session_id)
                held = self._sessions.get(key)
                if held is None:
                    held = self._sessions[key] = _Session()
                else:
                    self._sessions.move_to_end(key)
                held.batches.append(members)
                grown = sum(_size(s) for s in members)
                held.size += grown
                self._bytes += grown
            self._evict()

    def collect(self, project_id: int, session_ids: Sequence[str]) -> dict[str, Held]:
        """The held sessions among ``session_ids``, their new spans merged in."""
        taken: list[tuple[str, _Session, list[list[Any]]]] = []
        with self._lock:
            for session_id in session_ids:
                held = self._sessions.get((project_id, session_id))
                if held is not None:
                    taken.append((session_id, held, held.batches))
                    held.batches = []
        # Only the worker merges (one pass at a time), so views change outside the lock.
        return {
            session_id: Held(_merge(held, batches), held.exact)
            for session_id, held, batches in taken
        }

    def replace(self, project_id: int, session_id: str, views: list[SpanView]) -> None:
        """Hold a session as just read from the database (spans handed over since that read
        began and already in it are recognised by their ids when merged)."""
        key = (project_id, session_id)
        with self._lock:
            held = self._sessions.get(key)
            if held is None:
                held = self._sessions[key] = _Session()
            self._bytes -= held.size
            held.views = views
            held.ids = {(v.trace_id, v.span_id) for v in views}
            held.exact = True
            held.size = sum(_size(v) for v in views) + sum(
                _size(s) for batch in held.batches for s in batch
            )
            self._bytes += held.size
            self._sessions.move_to_end(key)
            self._evict()

    def forget(self, project_id: int, session_id: str) -> None:
        with self._lock:
            held = self._sessions.pop((project_id, session_id), None)
            if held is not None:
                self._bytes -= held.size

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._sessions:
            _, held = self._sessions.popitem(last=False)
            self._bytes -= held.size


def _merge(held: _Session, batches: list[list[Any]]) -> list[SpanView]:
    """The session's views with new batches merged in timeline order, renumbered from where
    the first new span lands."""
    views = held.views
    fresh: list[tuple[Any, int, int, Any]] = []
    for number, batch in enumerate(batches, start=1):
        for index, span in enumerate(batch):
            identity = (span.trace_id, span.span_id)
            if identity in held.ids:
                continue  # already read from the database
            held.ids.add(identity)
            fresh.append((span.start_time, number, index, span))
    if not fresh:
        return views
    if (not views or fresh[0][0] > views[-1].start_time) and _sorted(fresh):
        # The usual case: new spans come after the held ones, in order.
        start = len(views)
        merged: list[Any] = [*views, *(f[3] for f in fresh)]
    else:
        entries = [(v.start_time, 0, v.step, v) for v in views]
        entries += fresh
        entries.sort(key=lambda e: e[:3])
        for before, after in pairwise(entries):
            if before[0] == after[0] and before[1] != after[1]:
                held.exact = False  # storage order of the two unknown here
        start = next(
            (i for i, e in enumerate(entries) if not isinstance(e[3], SpanView) or e[2] != i),
            len(entries),
        )
        merged = [e[3] for e in entries]
    renumbered = merged[:start]
    for step in range(start, len(merged)):
        item = merged[step]
        renumbered.append(
            (item if item.step == step else item.at_step(step))
            if isinstance(item, SpanView)
            else span_view(item, step)
        )
    held.views = renumbered
    return renumbered


def _sorted(fresh: list[tuple[Any, int, int, Any]]) -> bool:
    """Whether new spans are in timeline order already, with no tie between two batches."""
    for before, after in pairwise(fresh):
        if before[0] > after[0] or (before[0] == after[0] and before[1] != after[1]):
            return False
    return True
