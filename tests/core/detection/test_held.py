"""Sessions held in memory by the detection worker: they stand for a read of the session only
when they are all of it, in the order the database gives."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from corral.core.detection.held import HeldSessions
from corral.core.detection.live import Detector, detect_scopes
from corral.core.detection.spans import SessionSpans, load_scopes
from corral.core.normalize import NormalizedSpan
from corral.core.runtime import Runtime
from corral.db.schema import FindingRow
from tests.core.detection.sessions import START, Session, make_project, store


def told(rt: Runtime, memory: HeldSessions, project: int, spans: list[NormalizedSpan]) -> None:
    """Store spans and hand them to ``memory``, as the span listener does."""
    store(rt, project, spans)
    memory.add(project, spans)


def from_database(rt: Runtime, project: int, session: str = "s1") -> SessionSpans:
    with rt.db.read() as uow:
        return load_scopes(uow, project, [session])[session]


def judged(rt: Runtime, memory: HeldSessions, project: int, session: str = "s1") -> SessionSpans:
    """The session as a pass with ``memory`` sees it, and whether it came from memory."""
    held = memory.collect(project, [session])
    with rt.db.read() as uow:
        loaded = load_scopes(uow, project, [session], held=held)[session]
    for view in held.values():
        if loaded.spans is not view.views:  # read from the database: hold that from now on
            memory.replace(project, session, loaded.spans)
    return loaded


def test_held_views_are_the_stored_session_in_timeline_order(runtime: Runtime) -> None:
    project = make_project(runtime)
    memory = HeldSessions(max_bytes=10_000_000)
    session = Session()
    told(runtime, memory, project, [session.say("converting"), *session.loop(2)])
    first = judged(runtime, memory, project)
    assert first.spans == from_database(runtime, project).spans
    told(runtime, memory, project, session.loop(2))
    # Spans of another trace that started earlier land in the middle of the timeline.
    early = Session(trace=2, start=START - timedelta(seconds=1))
    told(runtime, memory, project, [early.say("earlier"), *early.loop(1)])
    held = memory.collect(project, ["s1"])["s1"]
    assert held.exact
    assert held.views == from_database(runtime, project).spans
    assert [v.step for v in held.views] == list(range(7))
    with runtime.db.read() as uow:
        loaded = load_scopes(uow, project, ["s1"], held={"s1": held})["s1"]
    assert loaded.spans is held.views  # nothing read but the span count


def test_spans_of_two_batches_starting_together_are_read_from_the_database(
    runtime: Runtime,
) -> None:
    project = make_project(runtime)
    memory = HeldSessions(max_bytes=10_000_000)
    one, two = Session(), Session(trace=2)
    told(runtime, memory, project, [two.say("b")])
    told(runtime, memory, project, [one.say("a")])  # same instant, later batch
    held = memory.collect(project, ["s1"])["s1"]
    assert not held.exact
    loaded = judged(runtime, memory, project)
    assert loaded.spans == from_database(runtime, project).spans
    assert loaded.spans is not held.views


def test_spans_the_memory_was_not_told_of_are_read(runtime: Runtime) -> None:
    project = make_project(runtime)
    memory = HeldSessions(max_bytes=10_000_000)
    session = Session()
    told(runtime, memory, project, session.loop(2))
    judged(runtime, memory, project)
    store(runtime, project, session.loop(1))  # another replica wrote to the session
    told(runtime, memory, project, session.loop(1))
    loaded = judged(runtime, memory, project)
    assert len(loaded.spans) == 4
    assert loaded.spans == from_database(runtime, project).spans
    # Held from then on, the copy of the read included: the next pass reads nothing again.
    told(runtime, memory, project, session.loop(1))
    held = memory.collect(project, ["s1"])
    with runtime.db.read() as uow:
        again = load_scopes(uow, project, ["s1"], held=held)["s1"]
    assert again.spans is held["s1"].views
    assert again.spans == from_database(runtime, project).spans


def test_least_recently_used_sessions_leave_first(runtime: Runtime) -> None:
    project = make_project(runtime)
    memory = HeldSessions(max_bytes=5_000)
    for n in range(5):
        told(runtime, memory, project, Session(f"s{n}", trace=n + 1).loop(1))
    assert memory.held_bytes <= 5_000
    kept = memory.collect(project, [f"s{n}" for n in range(5)])
    assert set(kept) == {"s1", "s2", "s3", "s4"}
    assert (
        judged(runtime, memory, project, "s0").spans == from_database(runtime, project, "s0").spans
    )


def test_the_worker_finds_with_memory_what_it_finds_reading_everything(
    runtime: Runtime,
) -> None:
    project = make_project(runtime)
    detector = Detector(runtime, mode="background", capacity=100, memory_bytes=10_000_000)
    assert detector.memory is not None
    detector.start()
    try:
        session = Session()
        for _ in range(5):
            store(runtime, project, [session.say("converting"), *session.loop(1)])
            assert detector.wait_idle(30)
        assert detector.memory.held_bytes > 0
    finally:
        detector.stop()
    with runtime.db.read() as uow:
        stored = set(uow.scalars(select(FindingRow.type)))
    assert stored == {"tool_loop"}
    # A pass reading the whole session finds nothing the worker had not stored already.
    assert detect_scopes(runtime, project, ["s1"]) == []
