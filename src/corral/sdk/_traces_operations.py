"""The calls of the trace API, written once for both clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from corral.schemas.common import Page
from corral.schemas.observability import (
    HandoffGraph,
    PurgeResult,
    SessionSummary,
    SpanDetail,
    SpanSummary,
    TraceMetrics,
    TraceSummary,
    TraceTree,
)
from corral.sdk._calls import Call, body_of, parser, segment

Moment = datetime | str

_traces = parser(Page[TraceSummary])
_sessions = parser(Page[SessionSummary])
_spans = parser(Page[SpanSummary])


def _when(value: Moment | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else value


def _project(project: str) -> str:
    return f"/v1/projects/{segment(project)}"


def list_traces(
    project: str,
    *,
    agent: str | None = None,
    user: str | None = None,
    session: str | None = None,
    model: str | None = None,
    status: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    search: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[Page[TraceSummary]]:
    params = body_of(
        agent=agent,
        user=user,
        session=session,
        model=model,
        status=status,
        since=_when(since),
        until=_when(until),
        q=search,
        limit=limit,
        cursor=cursor,
    )
    return Call("GET", f"{_project(project)}/traces", _traces, params=params)


def get_trace(project: str, trace_id: str) -> Call[TraceTree]:
    return Call("GET", f"{_project(project)}/traces/{segment(trace_id)}", parser(TraceTree))


def get_span(project: str, trace_id: str, span_id: str) -> Call[SpanDetail]:
    path = f"{_project(project)}/traces/{segment(trace_id)}/spans/{segment(span_id)}"
    return Call("GET", path, parser(SpanDetail))


def list_sessions(
    project: str,
    *,
    agent: str | None = None,
    user: str | None = None,
    status: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[Page[SessionSummary]]:
    params = body_of(
        agent=agent,
        user=user,
        status=status,
        since=_when(since),
        until=_when(until),
        limit=limit,
        cursor=cursor,
    )
    return Call("GET", f"{_project(project)}/sessions", _sessions, params=params)


def get_session(project: str, session_id: str) -> Call[SessionSummary]:
    path = f"{_project(project)}/sessions/{segment(session_id)}"
    return Call("GET", path, parser(SessionSummary))


def session_timeline(
    project: str, session_id: str, *, limit: int = 500, cursor: str | None = None
) -> Call[Page[SpanSummary]]:
    path = f"{_project(project)}/sessions/{segment(session_id)}/timeline"
    return Call("GET", path, _spans, params=body_of(limit=limit, cursor=cursor))


def handoff_graph(
    project: str,
    *,
    session: str | None = None,
    agent: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> Call[HandoffGraph]:
    params = body_of(session=session, agent=agent, since=_when(since), until=_when(until))
    return Call("GET", f"{_project(project)}/handoff-graph", parser(HandoffGraph), params=params)


def trace_metrics(
    *,
    projects: list[str] | None = None,
    group_by: str = "agent",
    interval: str = "hour",
    span_type: str | None = "llm",
    since: Moment | None = None,
    until: Moment | None = None,
) -> Call[TraceMetrics]:
    params = body_of(
        project=projects or None,
        group_by=group_by,
        interval=interval,
        span_type=span_type,
        since=_when(since),
        until=_when(until),
    )
    return Call("GET", "/v1/trace-metrics", parser(TraceMetrics), params=params)


def purge_traces(
    project: str,
    *,
    before: Moment | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
) -> Call[PurgeResult]:
    body = body_of(before=_when(before), session_id=session_id, user_id=user_id)
    return Call("POST", f"{_project(project)}/traces/purge", parser(PurgeResult), json=body)


def export_traces(document: dict[str, Any]) -> Call[dict[str, Any]]:
    """An OTLP/JSON trace export, as an OpenTelemetry exporter would send it."""
    return Call("POST", "/v1/traces", parser(dict[str, Any]), json=document)
