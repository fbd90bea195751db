"""Traces and sessions: filtered lists, a trace's waterfall, a span, a session's timeline and
the graph of its agents and tools."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from corral.core import traces
from corral.core.detection import breaker, findings
from corral.errors import CorralError
from corral.schemas.detection import Finding
from corral.server.console.formatting import (
    RANGE_LABELS,
    choose_project,
    narrowed,
    page_url,
    pager,
    query_params,
    time_window,
)
from corral.server.console.rendering import error_page, render, viewer_of
from corral.server.console.svg import agent_graph
from corral.server.console.waterfall import place, render_rows
from corral.server.deps import get_runtime

router = APIRouter()

TRACE_FILTERS = (
    "project",
    "agent",
    "user",
    "model",
    "status",
    "q",
    "range",
    "since",
    "until",
    "tz",
)
SESSION_FILTERS = ("project", "agent", "user", "status", "range", "since", "until", "tz")
PAGE_SIZE = 50
WATERFALL_PAGE = 1000
"""Spans per page of a trace's waterfall (all of them on request)."""
SEARCH_RANGE = timedelta(days=1)
TIMELINE_PAGE = 200


def _status(value: str | None) -> Any:
    return value if value in ("ok", "error") else None


@router.get("/traces", response_class=HTMLResponse)
def trace_list(request: Request) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    params = query_params(request, *TRACE_FILTERS)
    choice = choose_project(rt, viewer, params.get("project"))
    since, until = time_window(params, rt.clock.now())
    search = params.get("q")
    bounded_search = (
        search is not None
        and not traces.search_is_indexed(search)
        and since is None
        and until is None
    )
    if bounded_search:
        # Text too short for the index is matched span by span: without a range, look at the
        # last day, not all time.
        since = rt.clock.now() - SEARCH_RANGE
    page = None
    if choice.name is not None:
        try:
            page = traces.list_traces(
                rt,
                viewer.principal,
                choice.name,
                agent=params.get("agent"),
                user=params.get("user"),
                model=params.get("model"),
                status=_status(params.get("status")),
                since=since,
                until=until,
                search=search,
                limit=PAGE_SIZE,
                cursor=request.query_params.get("cursor"),
            )
        except CorralError as exc:
            return error_page(request, viewer, exc)
    return render(
        request,
        "traces.html",
        viewer,
        choice=choice,
        filters=params,
        filtered=narrowed(params),
        ranges=RANGE_LABELS,
        traces=page.data if page else [],
        bounded_search=bounded_search,
        **pager(request, "/console/traces", params, page.next_cursor if page else None),
    )


@router.get("/sessions", response_class=HTMLResponse)
def session_list(request: Request) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    params = query_params(request, *SESSION_FILTERS)
    choice = choose_project(rt, viewer, params.get("project"))
    since, until = time_window(params, rt.clock.now())
    page = None
    halted: set[str] = set()
    if choice.name is not None:
        try:
            page = traces.list_sessions(
                rt,
                viewer.principal,
                choice.name,
                agent=params.get("agent"),
                user=params.get("user"),
                status=_status(params.get("status")),
                since=since,
                until=until,
                limit=PAGE_SIZE,
                cursor=request.query_params.get("cursor"),
            )
            halted = {h.session_id for h in breaker.list_halts(rt, viewer.principal, choice.name)}
        except CorralError as exc:
            return error_page(request, viewer, exc)
    return render(
        request,
        "sessions.html",
        viewer,
        choice=choice,
        filters=params,
        filtered=narrowed(params),
        ranges=RANGE_LABELS,
        sessions=page.data if page else [],
        halted=halted,
        **pager(request, "/console/sessions", params, page.next_cursor if page else None),
    )


@router.get("/traces/{project}/{trace_id}", response_class=HTMLResponse)
def trace_page(request: Request, project: str, trace_id: str) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    try:
        summary, rows = traces.trace_spans(
            rt, viewer.principal, project, trace_id, columns=traces.WATERFALL_COLUMNS
        )
        # Plain rows, not validated models: a trace can hold thousands of spans.
        spans: list[Any] = [SimpleNamespace(**row) for row in rows]
        related = findings.list_findings(
            rt,
            viewer.principal,
            project,
            session=summary.session_id,
            trace=None if summary.session_id else summary.trace_id,
            limit=200,
        ).data
    except CorralError as exc:
        return error_page(request, viewer, exc)
    marks: dict[str, list[Finding]] = {}
    in_trace = {s.span_id for s in spans}
    for finding in related:
        for span_id in finding.span_ids:
            if span_id in in_trace:
                marks.setdefault(span_id, []).append(finding)
    shown = [f for f in related if any(i in in_trace for i in f.span_ids)]
    first, last = _waterfall_window(request, spans)
    return render(
        request,
        "trace.html",
        viewer,
        project=project,
        trace=summary,
        rows=render_rows(
            place(spans[first:last], summary.start_time, summary.duration_ms, marks), project
        ),
        window=(first, last, len(spans)),
        page_size=WATERFALL_PAGE,
        findings=shown,
        models=sorted({s.model for s in spans if s.model}),
    )


def _waterfall_window(request: Request, spans: list[Any]) -> tuple[int, int]:
    """The slice of the tree the page shows: ``WATERFALL_PAGE`` spans from ``from``, the page
    holding the span named by ``focus``, or every span with ``spans=all``."""
    if request.query_params.get("spans") == "all":
        return 0, len(spans)
    focus = request.query_params.get("focus")
    if focus:
        index = next((i for i, s in enumerate(spans) if s.span_id == focus), 0)
        first = index - index % WATERFALL_PAGE
    else:
        try:
            first = max(0, int(request.query_params.get("from", "0")))
        except ValueError:
            first = 0
        first -= first % WATERFALL_PAGE
    return first, min(len(spans), first + WATERFALL_PAGE)


@router.get("/traces/{project}/{trace_id}/spans/{span_id}", response_class=HTMLResponse)
def span_page(request: Request, project: str, trace_id: str, span_id: str) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    try:
        span = traces.get_span(rt, viewer.principal, project, trace_id, span_id)
    except CorralError as exc:
        return error_page(request, viewer, exc)
    return render(request, "span.html", viewer, project=project, span=span)


@router.get("/sessions/{project}/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, project: str, session_id: str) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    actor = viewer.principal
    cursor = request.query_params.get("cursor")
    try:
        session = traces.get_session(rt, actor, project, session_id)
        timeline = traces.session_timeline(
            rt, actor, project, session_id, limit=TIMELINE_PAGE, cursor=cursor
        )
        graph = traces.handoff_graph(rt, actor, project, session=session_id)
        related = findings.list_findings(rt, actor, project, session=session_id, limit=200).data
        halts = breaker.list_halts(rt, actor, project, session_id=session_id)
    except CorralError as exc:
        return error_page(request, viewer, exc)
    marks: dict[str, list[Finding]] = {}
    for finding in related:
        for span_id in finding.span_ids:
            marks.setdefault(span_id, []).append(finding)
    rows = place(
        timeline.data,
        session.first_seen,
        (session.last_seen - session.first_seen).total_seconds() * 1000,
        marks,
    )
    choice = choose_project(rt, viewer, project)
    current = choice.current
    return render(
        request,
        "session.html",
        viewer,
        project=project,
        session=session,
        rows=render_rows(rows, project, indent=False),
        graph=agent_graph(graph) if graph.nodes else None,
        graph_data=graph,
        findings=related,
        halt=halts[0] if halts else None,
        may_write=current is not None and viewer.can("traces:write", current.id),
        next_url=page_url(request.url.path, {}, cursor=timeline.next_cursor)
        if timeline.next_cursor
        else None,
        paged=cursor is not None,
    )
