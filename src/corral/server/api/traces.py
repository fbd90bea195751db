"""Reading traces, sessions, handoff graphs and metrics; purging traces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from corral.core import retention, trace_metrics, traces
from corral.core.pagination import MAX_PAGE_SIZE
from corral.schemas.common import Page
from corral.schemas.observability import (
    HandoffGraph,
    MetricsGroup,
    MetricsInterval,
    PurgeResult,
    SessionSummary,
    SpanDetail,
    SpanStatus,
    SpanSummary,
    SpanType,
    TraceMetrics,
    TracePurge,
    TraceSummary,
    TraceTree,
)
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(tags=["traces"])

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Since = Annotated[datetime | None, Query(description="Only what started at or after this.")]
Until = Annotated[datetime | None, Query(description="Only what started before this.")]


@router.get("/projects/{project}/traces", summary="Traces of a project, newest first")
def list_traces(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    agent: Annotated[str | None, Query(description="Root agent of the trace.")] = None,
    user: str | None = None,
    session: str | None = None,
    model: Annotated[str | None, Query(description="A model used by any span.")] = None,
    status: SpanStatus | None = None,
    since: Since = None,
    until: Until = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in any span's input, output or tool call."),
    ] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Page[TraceSummary]:
    return traces.list_traces(
        rt,
        actor,
        project,
        agent=agent,
        user=user,
        session=session,
        model=model,
        status=status,
        since=since,
        until=until,
        search=q,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/projects/{project}/traces/{trace_id}",
    summary="A trace and its span tree",
    response_model=TraceTree,
)
def get_trace(rt: RuntimeDep, actor: Actor, project: str, trace_id: str) -> Response:
    return Response(
        traces.trace_tree_json(rt, actor, project, trace_id), media_type="application/json"
    )


@router.get(
    "/projects/{project}/traces/{trace_id}/spans/{span_id}",
    summary="One span with its raw attributes and events",
)
def get_span(rt: RuntimeDep, actor: Actor, project: str, trace_id: str, span_id: str) -> SpanDetail:
    return traces.get_span(rt, actor, project, trace_id, span_id)


@router.get("/projects/{project}/sessions", summary="Sessions of a project, latest first")
def list_sessions(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    agent: str | None = None,
    user: str | None = None,
    status: SpanStatus | None = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Page[SessionSummary]:
    return traces.list_sessions(
        rt,
        actor,
        project,
        agent=agent,
        user=user,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


@router.get("/projects/{project}/sessions/{session_id}", summary="One session's rollup")
def get_session(rt: RuntimeDep, actor: Actor, project: str, session_id: str) -> SessionSummary:
    return traces.get_session(rt, actor, project, session_id)


@router.get(
    "/projects/{project}/sessions/{session_id}/timeline",
    summary="A session's spans in the order they started",
)
def session_timeline(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    session_id: str,
    limit: Limit = 200,
    cursor: str | None = None,
) -> Page[SpanSummary]:
    return traces.session_timeline(rt, actor, project, session_id, limit=limit, cursor=cursor)


@router.get(
    "/projects/{project}/handoff-graph",
    summary="Handoffs between agents and their tool calls, for a session or an agent",
)
def handoff_graph(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    session: str | None = None,
    agent: str | None = None,
    since: Since = None,
    until: Until = None,
) -> HandoffGraph:
    return traces.handoff_graph(
        rt, actor, project, session=session, agent=agent, since=since, until=until
    )


@router.post(
    "/projects/{project}/traces/purge",
    summary="Delete traces by age, session or user (project admins; audited)",
)
def purge_traces(rt: RuntimeDep, actor: Actor, project: str, body: TracePurge) -> PurgeResult:
    return retention.purge_traces(rt, actor, project, body)


@router.get("/trace-metrics", summary="Calls, tokens, cost, errors and latency over time")
def get_trace_metrics(
    rt: RuntimeDep,
    actor: Actor,
    project: Annotated[
        list[str] | None, Query(description="Projects to include (default: all you can read).")
    ] = None,
    group_by: MetricsGroup = "agent",
    interval: MetricsInterval = "hour",
    span_type: Annotated[
        SpanType | Literal["all"],
        Query(description="Spans counted as calls: a span type, or all (default llm)."),
    ] = "llm",
    since: Annotated[datetime | None, Query(description="Default: a day before until.")] = None,
    until: Annotated[datetime | None, Query(description="Default: now.")] = None,
) -> TraceMetrics:
    return trace_metrics.trace_metrics(
        rt,
        actor,
        projects=project,
        group_by=group_by,
        interval=interval,
        span_type=None if span_type == "all" else span_type,
        since=since,
        until=until,
    )
