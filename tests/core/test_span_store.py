"""The span store under concurrency: two runtimes (as two replicas) writing the same sessions."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime, timedelta

from corral.core.normalize import NormalizedSpan
from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.db.schema import ProjectRow
from corral.settings import Settings

START = datetime(2026, 1, 1, tzinfo=UTC)
BATCHES = 120


def batch(number: int) -> list[NormalizedSpan]:
    """Ten traces of three spans over sessions shared by every batch, in a varying order."""
    spans = []
    for trace in range(10):
        trace_id = f"{number:08x}{trace:024x}"
        session = f"s{(trace * 7 + number * 3) % 5}"
        for index in range(3):
            spans.append(
                NormalizedSpan(
                    trace_id=trace_id,
                    span_id=f"{index + 1:016x}",
                    parent_span_id=None if index == 0 else f"{1:016x}",
                    name="step",
                    start_time=START + timedelta(seconds=number),
                    end_time=START + timedelta(seconds=number + 1),
                    session_id=session,
                    span_type="llm" if index else "agent",
                    model="gpt-4o",
                    input_tokens=10,
                    output_tokens=1,
                )
            )
    return spans


def test_concurrent_writers_on_two_runtimes_keep_exact_rollups(
    runtime: Runtime, settings: Settings
) -> None:
    with runtime.db.write() as uow:
        project = ProjectRow(name="p", description="", created_at=START, last_active_at=START)
        uow.add(project)
        uow.flush()
        project_id = project.id
    other = Runtime.from_settings(settings)
    try:
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            list(
                pool.map(
                    lambda n: record_spans((runtime, other)[n % 2], [(project_id, batch(n))]),
                    range(BATCHES),
                )
            )
        # A retry of every batch changes nothing.
        for number in range(BATCHES):
            record_spans(runtime, [(project_id, batch(number))])
    finally:
        other.db.dispose()
    from sqlalchemy import func, select

    from corral.db.schema import SessionRow, SpanRow, TraceRow

    with runtime.db.read() as uow:
        assert uow.scalar(select(func.count()).select_from(SpanRow)) == BATCHES * 30
        assert uow.scalar(select(func.sum(TraceRow.span_count))) == BATCHES * 30
        assert uow.scalar(select(func.count()).select_from(TraceRow)) == BATCHES * 10
        assert uow.scalar(select(func.sum(SessionRow.span_count))) == BATCHES * 30
        assert uow.scalar(select(func.sum(SessionRow.llm_calls))) == BATCHES * 20
        assert uow.scalar(select(func.count()).select_from(SessionRow)) == 5


def test_every_agent_in_a_trace_has_its_last_activity(runtime: Runtime, admin_key: str) -> None:
    """An agent that only ever works inside another's trace is still seen working."""
    from sqlalchemy import select

    from corral.core.console_agents import last_activity
    from corral.core.keys import authenticate
    from corral.db.schema import AgentRow, ProjectMemberRow

    admin = authenticate(runtime, admin_key)
    with runtime.db.write() as uow:
        project = ProjectRow(name="p", description="", created_at=START, last_active_at=START)
        uow.add(project)
        for name in ("planner", "coder"):
            uow.add(AgentRow(name=name, description="", created_at=START))
        uow.flush()
        agents = {a.name: a.id for a in uow.scalars(select(AgentRow))}
        for agent_id in agents.values():
            uow.add(
                ProjectMemberRow(
                    project_id=project.id, agent_id=agent_id, role="member", created_at=START
                )
            )
        project_id = project.id

    def span(number: int, agent: str, seconds: int) -> NormalizedSpan:
        return NormalizedSpan(
            trace_id="a" * 32,
            span_id=f"{number:016x}",
            parent_span_id=None if number == 1 else f"{1:016x}",
            name=agent,
            start_time=START + timedelta(seconds=seconds),
            end_time=START + timedelta(seconds=seconds + 1),
            span_type="agent",
            agent_name=agent,
        )

    record_spans(runtime, [(project_id, [span(1, "planner", 0), span(2, "coder", 5)])])
    record_spans(runtime, [(project_id, [span(3, "coder", 30)])])
    with runtime.db.read() as uow:
        assert last_activity(uow, admin, agents["planner"], "planner") == START + timedelta(
            seconds=1
        )
        assert last_activity(uow, admin, agents["coder"], "coder") == START + timedelta(seconds=31)
