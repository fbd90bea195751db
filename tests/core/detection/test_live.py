"""Detection on stored sessions: findings stored once and updated, steps, windows, baselines,
the worker behind the span store, and the circuit breaker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from corral.core.clock import ManualClock
from corral.core.detection import breaker
from corral.core.detection.baseline import BaselineCache, agent_baseline
from corral.core.detection.live import Detector, detect_scope, start_detection
from corral.core.detection.memory import memory_context
from corral.core.detection.settings_store import PROJECT_LEVEL
from corral.core.detection.spans import load_scope
from corral.core.runtime import Runtime
from corral.core.span_store import StoredBatch
from corral.db.schema import AlertRow, AuditEventRow, DetectorSettingsRow, FindingRow
from corral.errors import SessionHalted
from tests.core.detection.sessions import START, Session, make_project, store


def findings(rt: Runtime) -> list[FindingRow]:
    with rt.db.read() as uow:
        return list(uow.scalars(select(FindingRow).order_by(FindingRow.id)))


def alerts(rt: Runtime) -> list[AlertRow]:
    with rt.db.read() as uow:
        return list(uow.scalars(select(AlertRow).where(AlertRow.kind == "finding")))


def configure(rt: Runtime, project_id: int, agent: str = PROJECT_LEVEL, **values: object) -> None:
    with rt.db.write() as uow:
        uow.add(
            DetectorSettingsRow(
                project_id=project_id,
                agent_name=agent,
                overrides=values,
                updated_by="test",
                updated_at=START,
            )
        )


def test_a_finding_is_stored_once_and_follows_the_session(runtime: Runtime) -> None:
    project = make_project(runtime)
    session = Session()
    store(runtime, project, [session.say("converting"), *session.loop(2)])
    assert detect_scope(runtime, project, "s1") == []
    store(runtime, project, session.loop(1))
    [stored] = detect_scope(runtime, project, "s1")
    assert (stored.type, stored.new, stored.severity) == ("tool_loop", True, "warning")
    [row] = findings(runtime)
    assert (row.session_id, row.agent_name, row.step) == ("s1", "planner", 3)
    assert row.step_span_id == row.span_ids[-1]  # the third call is where the loop is
    # Each repeat is charged the LLM call that chose it (300 tokens, $0.001).
    assert (row.wasted_tokens, row.wasted_cost_usd) == (600, pytest.approx(0.002))
    # Nothing new: no write, no second alert.
    assert detect_scope(runtime, project, "s1") == []
    store(runtime, project, session.loop(1))
    [updated] = detect_scope(runtime, project, "s1")
    assert (updated.id, updated.new, updated.escalated) == (row.id, False, False)
    [row] = findings(runtime)
    assert (len(row.span_ids), row.details["count"]) == (4, 4)
    [alert] = alerts(runtime)
    assert (alert.key, alert.count, alert.severity) == (f"finding:{row.id}", 1, "warning")
    # Twice the threshold is critical: the alert is raised again, more severe.
    store(runtime, project, session.loop(2))
    [escalated] = detect_scope(runtime, project, "s1")
    assert escalated.escalated
    [alert] = alerts(runtime)
    assert (alert.count, alert.severity, alert.details["type"]) == (2, "critical", "tool_loop")
    assert len(findings(runtime)) == 1


def test_an_escalation_reopens_a_finding_someone_closed(runtime: Runtime) -> None:
    project = make_project(runtime)
    session = Session()
    store(runtime, project, session.loop(3))
    detect_scope(runtime, project, "s1")
    with runtime.db.write() as uow:
        row = uow.scalars(select(FindingRow)).one()
        row.status, row.resolved_by, row.resolved_at = "resolved", "ada", START
    store(runtime, project, session.loop(1))
    detect_scope(runtime, project, "s1")
    assert findings(runtime)[0].status == "resolved"  # more of the same is not news
    store(runtime, project, session.loop(2))
    detect_scope(runtime, project, "s1")
    [row] = findings(runtime)
    assert (row.status, row.resolved_by, row.severity) == ("open", None, "critical")


def test_steps_count_from_the_start_of_a_session_longer_than_the_window(
    runtime: Runtime,
) -> None:
    project = make_project(runtime)
    session = Session()
    spans = [session.say(f"message {n}", tokens=100, cost=0.01) for n in range(8)]
    spans += [session.tool("lookup", {"n": n}) for n in range(4)]
    store(runtime, project, spans)
    with runtime.db.read() as uow:
        whole = load_scope(uow, project, "s1")
        latest = load_scope(uow, project, "s1", window=5)
    assert [s.step for s in whole.spans] == list(range(12))
    assert whole.totals is None
    assert [s.step for s in latest.spans] == [7, 8, 9, 10, 11]
    assert [s.span_id for s in latest.spans] == [s.span_id for s in whole.spans[7:]]
    # The runaway rule still sees the whole session's steps, tokens and cost.
    assert latest.totals == (12, 800, pytest.approx(0.08))


def test_spans_without_a_session_are_judged_per_trace(runtime: Runtime) -> None:
    project = make_project(runtime)
    trace = Session(session=None, trace=7)
    store(runtime, project, trace.loop(3))
    [stored] = detect_scope(runtime, project, f"trace:{trace.trace_id}")
    [row] = findings(runtime)
    assert (row.id, row.scope, row.session_id) == (stored.id, f"trace:{trace.trace_id}", None)
    assert row.trace_id == trace.trace_id


def test_settings_of_an_agent_override_the_project(runtime: Runtime) -> None:
    project = make_project(runtime)
    configure(runtime, project, loop_repeats=4)
    configure(runtime, project, agent="fetcher", loop_repeats=2)
    planner, fetcher = Session("s1"), Session("s2", trace=2, agent="fetcher")
    store(runtime, project, planner.loop(3) + fetcher.loop(2))
    assert detect_scope(runtime, project, "s1") == []  # the project asks for 4
    assert [f.type for f in detect_scope(runtime, project, "s2")] == ["tool_loop"]
    configure(runtime, project, agent="quiet", enabled=False)
    quiet = Session("s3", trace=3, agent="quiet")
    store(runtime, project, quiet.loop(9))
    assert detect_scope(runtime, project, "s3") == []


def test_runaway_against_the_agents_own_baseline(runtime: Runtime, clock: ManualClock) -> None:
    project = make_project(runtime)
    for number in range(12):
        usual = Session(f"usual-{number}", trace=100 + number)
        store(runtime, project, [usual.say("step", tokens=200) for _ in range(4)])
    clock.advance(timedelta(hours=1))  # those sessions are over
    with runtime.db.read() as uow:
        baseline = agent_baseline(uow, project, "planner", clock.now())
    assert baseline is not None
    assert (baseline.sessions, baseline.p95_steps, baseline.p95_tokens) == (12, 4, 800)
    long = Session("long", trace=999, start=clock.now())
    spans = [long.say(f"step {n}", tokens=150, cost=0.0003) for n in range(13)]
    store(runtime, project, spans)  # only its steps are over 3x the usual
    [stored] = detect_scope(runtime, project, "long", baselines=BaselineCache())
    [row] = [f for f in findings(runtime) if f.id == stored.id]
    assert row.type == "runaway"
    assert row.details["metric"] == "steps"
    assert "12 recent sessions" in row.explanation


def test_memory_gives_no_context_until_project_memory_exists(runtime: Runtime) -> None:
    project = make_project(runtime)
    with runtime.db.read() as uow:
        assert memory_context(uow, project) == ({}, [])


def test_a_critical_finding_halts_the_session_until_someone_resumes_it(
    runtime: Runtime,
) -> None:
    project = make_project(runtime)
    configure(runtime, project, halt_on=["tool_loop"])
    session = Session()
    store(runtime, project, session.loop(3))
    detect_scope(runtime, project, "s1")
    with runtime.db.read() as uow:
        breaker.check_session_not_halted(uow, project, "s1")  # a warning does not halt
    store(runtime, project, session.loop(3))
    [stored] = detect_scope(runtime, project, "s1")
    assert stored.halted
    with runtime.db.read() as uow, pytest.raises(SessionHalted) as refused:
        breaker.check_session_not_halted(uow, project, "s1")
    error = refused.value
    assert (error.code, error.status) == ("session_halted", 409)
    assert error.details["finding_id"] == stored.id
    assert error.details["finding_type"] == "tool_loop"
    assert f"finding {stored.id} (tool_loop)" in error.message
    with runtime.db.write() as uow:
        halt = breaker.active_halt(uow, project, "s1")
        assert halt is not None
        halt.resumed_at, halt.resumed_by = START, "ada"
    with runtime.db.read() as uow:
        breaker.check_session_not_halted(uow, project, "s1")
    # The same finding growing does not halt again: a person looked at it and let it go.
    store(runtime, project, session.loop(1))
    detect_scope(runtime, project, "s1")
    with runtime.db.read() as uow:
        assert breaker.active_halt(uow, project, "s1") is None
        actions = list(uow.scalars(select(AuditEventRow.action)))
    assert "session.halt" in actions


def test_the_worker_judges_what_the_span_store_commits(runtime: Runtime) -> None:
    project = make_project(runtime)
    detector = start_detection(runtime)
    try:
        assert detector.on_batch in runtime.span_listeners
        sessions = [Session(f"s{n}", trace=n + 1) for n in range(5)]
        for _ in range(3):  # three batches, each touching every session
            store(runtime, project, [s.loop(1)[0] for s in sessions])
        assert detector.wait_idle(30)
        rows = findings(runtime)
        assert sorted(r.session_id or "" for r in rows) == [f"s{n}" for n in range(5)]
        assert detector.stats.failures == 0
        assert detector.stats.sessions <= 15  # a session queued twice is judged once
    finally:
        detector.stop()
    assert detector.on_batch not in runtime.span_listeners
    store(runtime, project, Session("s9", trace=99).loop(3))
    with runtime.db.read() as uow:
        assert uow.scalar(select(func.count()).select_from(FindingRow)) == 5


def test_batches_arriving_while_the_worker_gathers_share_one_pass(runtime: Runtime) -> None:
    project = make_project(runtime)
    detector = Detector(runtime, mode="background", capacity=100, gather_seconds=3600)
    detector.start()
    try:
        one, two = Session("s1"), Session("s2", trace=2)
        for _ in range(3):  # a session's calls committed one by one, as the gateway does
            store(runtime, project, one.loop(1))
            store(runtime, project, two.loop(1))
        assert detector.queued == 2  # still gathering: nothing judged yet
        assert detector.wait_idle(30)  # a waiter ends the gathering
        assert (detector.stats.passes, detector.stats.sessions) == (1, 2)
        assert sorted(r.session_id or "" for r in findings(runtime)) == ["s1", "s2"]
    finally:
        detector.stop()


def test_inline_mode_judges_on_the_ingest_request(runtime: Runtime) -> None:
    project = make_project(runtime)
    detector = Detector(runtime, mode="inline", capacity=10)
    detector.start()
    try:
        store(runtime, project, Session().loop(3))
        assert [r.type for r in findings(runtime)] == ["tool_loop"]  # no waiting needed
    finally:
        detector.stop()


def test_a_full_queue_gives_up_on_a_session_after_waiting(runtime: Runtime) -> None:
    # Not started: nothing empties the queue, as when the worker falls behind.
    detector = Detector(runtime, mode="background", capacity=1, queue_wait_seconds=0.0)
    one, two = Session("s1"), Session("s2", trace=2)
    detector.on_batch(StoredBatch(project_id=1, spans=[one.say("hi"), two.say("hi")]))
    detector.on_batch(StoredBatch(project_id=1, spans=[one.say("again")]))  # queued already
    assert (detector.queued, detector.stats.dropped) == (1, 1)


class _FakeTime:
    """``time.monotonic`` for the worker, moved on by its waits instead of by the clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        self.now += timeout
        return False


def test_the_worker_pauses_as_long_as_its_pass_took(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corral.core.detection import live

    fake = _FakeTime()
    monkeypatch.setattr(live, "time", fake)
    detector = Detector(runtime, mode="background", capacity=10)
    monkeypatch.setattr(detector._cond, "wait", fake.wait)
    began, fake.now = fake.now, fake.now + 0.25  # a pass of 250 ms
    detector._pause(began)
    assert fake.waits == [pytest.approx(0.25 * live.PAUSE_PER_PASS)]
    fake.waits.clear()
    detector._stopping = True  # stopping: no pause, what is queued is finished at once
    detector._pause(began)
    assert fake.waits == []


def test_the_worker_yields_more_while_ingest_waits_for_the_database(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corral.core.detection import live

    fake = _FakeTime()
    monkeypatch.setattr(live, "time", fake)
    detector = Detector(runtime, mode="background", capacity=10, share_under_load=0.2)
    monkeypatch.setattr(detector._cond, "wait", fake.wait)
    began, fake.now = fake.now, fake.now + 0.25  # a pass of 250 ms while ingest queued
    detector._pause(began, under_load=True)
    # A fifth of the time judging: four times the pass's duration waiting.
    assert fake.waits == [pytest.approx(1.0)]
