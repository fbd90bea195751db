"""Reading traces: lists, trees, sessions, timelines and handoff graphs.

Lists read the rollup tables through indexes that match their order (newest first), so the
first page costs the same at a thousand spans or a billion. Cursors are keyset positions.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.pagination import decode_cursor, encode_cursor
from corral.core.runtime import Runtime
from corral.db import span_search
from corral.db.schema import SessionRow, SpanRow, TraceRow
from corral.errors import InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.common import NUL_RULE, Page
from corral.schemas.observability import (
    GraphEdge,
    GraphNode,
    HandoffGraph,
    SessionSummary,
    SpanDetail,
    SpanStatus,
    SpanSummary,
    TraceSummary,
    TraceTree,
)

SUMMARY_COLUMNS = (
    SpanRow.trace_id,
    SpanRow.span_id,
    SpanRow.parent_span_id,
    SpanRow.name,
    SpanRow.span_type,
    SpanRow.status,
    SpanRow.error_message,
    SpanRow.start_time,
    SpanRow.end_time,
    SpanRow.duration_ms,
    SpanRow.agent_name,
    SpanRow.agent_version,
    SpanRow.session_id,
    SpanRow.user_id,
    SpanRow.model,
    SpanRow.provider,
    SpanRow.input_tokens,
    SpanRow.output_tokens,
    SpanRow.cache_read_tokens,
    SpanRow.cache_write_tokens,
    SpanRow.reasoning_tokens,
    SpanRow.cost_usd,
    SpanRow.price_version,
    SpanRow.tool_name,
    SpanRow.tool_arguments,
)
_SUMMARY_NAMES = tuple(column.key for column in SUMMARY_COLUMNS)
# What a waterfall shows: no tool arguments (they can be long), no end times (durations are kept).
WATERFALL_COLUMNS = (
    SpanRow.trace_id,
    SpanRow.span_id,
    SpanRow.parent_span_id,
    SpanRow.name,
    SpanRow.span_type,
    SpanRow.status,
    SpanRow.error_message,
    SpanRow.start_time,
    SpanRow.duration_ms,
    SpanRow.agent_name,
    SpanRow.model,
    SpanRow.tool_name,
    SpanRow.input_tokens,
    SpanRow.output_tokens,
    SpanRow.cost_usd,
)
MAX_TREE_SPANS = 50_000
MAX_GRAPH_TRACES = 2_000
DEFAULT_GRAPH_RANGE = timedelta(days=1)
SEARCH_CANDIDATES = 2_000
"""Spans a text search takes from the index before it prefers walking traces newest first."""


def list_traces(
    rt: Runtime,
    actor: Principal,
    project: str,
    *,
    agent: str | None = None,
    user: str | None = None,
    session: str | None = None,
    model: str | None = None,
    status: SpanStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[TraceSummary]:
    """Traces of a project, newest first, filtered.

    ``agent`` matches the trace's root agent; ``model`` and ``search`` look inside the trace's
    spans: the trace is listed when one of its spans has the model and holds the text (see
    :func:`corral.db.span_search.contains_text`).
    """
    if search and "\x00" in search:
        # PostgreSQL text cannot hold it, and it would end an SQLite full-text query.
        raise InvalidRequest(f"the search is invalid: {NUL_RULE}.", code="invalid_text")
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        query = select(TraceRow).where(TraceRow.project_id == row.id)
        if agent is not None:
            query = query.where(TraceRow.agent_name == agent)
        if user is not None:
            query = query.where(TraceRow.user_id == user)
        if session is not None:
            query = query.where(TraceRow.session_id == session)
        if status == "error":
            query = query.where(TraceRow.error_count > 0)
        elif status == "ok":
            query = query.where(TraceRow.error_count == 0)
        if since is not None:
            query = query.where(TraceRow.start_time >= since)
        if until is not None:
            query = query.where(TraceRow.start_time < until)
        span_filters: list[ColumnElement[bool]] = []
        if model is not None:
            span_filters.append(SpanRow.model == model)
        found = _search_index(uow, row.id, search, since, span_filters) if search else None
        if found is not None:
            query = query.where(TraceRow.trace_id.in_(found))
        elif span_filters or search:
            if search:
                span_filters.append(span_search.contains_text(search))
            query = query.where(
                exists().where(
                    SpanRow.project_id == TraceRow.project_id,
                    SpanRow.trace_id == TraceRow.trace_id,
                    *span_filters,
                )
            )
        if cursor:
            moment, trace_id = decode_cursor(cursor, 2)
            at = _cursor_time(moment)
            query = query.where(
                or_(
                    TraceRow.start_time < at,
                    and_(TraceRow.start_time == at, TraceRow.trace_id < str(trace_id)),
                )
            )
        query = query.order_by(TraceRow.start_time.desc(), TraceRow.trace_id.desc())
        rows = uow.scalars(query.limit(limit + 1)).all()
    page = [describe_trace(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.start_time.isoformat(), last.trace_id)
    return Page[TraceSummary](data=page, next_cursor=next_cursor)


def search_is_indexed(search: str) -> bool:
    """Whether a text search can use the index (long enough); shorter ones scan spans."""
    return span_search.is_indexable(search)


def get_trace(rt: Runtime, actor: Principal, project: str, trace_id: str) -> TraceTree:
    """A trace with its spans in depth-first order; children sorted by start time."""
    summary, spans = trace_spans(rt, actor, project, trace_id)
    # One validation pass over the whole tree: thousands of spans per trace are common.
    return TraceTree.model_validate({"trace": summary, "spans": spans})


def trace_tree_json(rt: Runtime, actor: Principal, project: str, trace_id: str) -> bytes:
    """:func:`get_trace` as its JSON body, byte for byte the model's own serialization, without
    building a model per span: for a tree of thousands of spans, validating them cost more than
    reading them. The rows hold exactly :class:`SpanSummary`'s fields, in its order."""
    summary, spans = trace_spans(rt, actor, project, trace_id)
    return orjson.dumps(
        {"trace": summary.model_dump(mode="json"), "spans": spans}, option=orjson.OPT_UTC_Z
    )


def trace_spans(
    rt: Runtime,
    actor: Principal,
    project: str,
    trace_id: str,
    *,
    columns: Sequence[Any] = SUMMARY_COLUMNS,
) -> tuple[TraceSummary, list[dict[str, Any]]]:
    """A trace and its spans as plain rows (``columns``, a subset of :data:`SUMMARY_COLUMNS`
    holding at least the ids and start time, plus ``depth``), depth-first, children by start
    time: for readers that show thousands of spans and need not pay for validating each one."""
    with rt.db.read() as uow:
        project_row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        trace_id = _hex_id(trace_id, 32, "trace_id")
        trace = _trace_row(uow, project_row.id, trace_id)
        rows = (
            uow.connection()
            .execute(
                select(*columns)
                .where(SpanRow.project_id == project_row.id, SpanRow.trace_id == trace_id)
                .limit(MAX_TREE_SPANS)
            )
            .all()
        )
    names = tuple(column.key for column in columns)
    # Sorted here rather than by the database: an ORDER BY on start time would tempt a planner
    # into walking the project's time index instead of fetching the trace's rows by trace id.
    spans = sorted(
        (dict(zip(names, r, strict=True)) for r in rows),
        key=lambda s: (s["start_time"], s["span_id"]),
    )
    return describe_trace(trace), _depth_first(spans)


def get_span(
    rt: Runtime, actor: Principal, project: str, trace_id: str, span_id: str
) -> SpanDetail:
    with rt.db.read() as uow:
        project_row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        trace_id = _hex_id(trace_id, 32, "trace_id")
        span_id = _hex_id(span_id, 16, "span_id")
        row = uow.scalars(
            select(SpanRow).where(
                SpanRow.project_id == project_row.id,
                SpanRow.trace_id == trace_id,
                SpanRow.span_id == span_id,
            )
        ).one_or_none()
    if row is None:
        raise NotFound(
            f"no span {span_id} in trace {trace_id} of project {project!r}.",
            code="span_not_found",
        )
    values = {name: getattr(row, name) for name in SpanDetail.model_fields if hasattr(row, name)}
    return SpanDetail(**values)


def list_sessions(
    rt: Runtime,
    actor: Principal,
    project: str,
    *,
    agent: str | None = None,
    user: str | None = None,
    status: SpanStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[SessionSummary]:
    """Sessions of a project, most recently active first."""
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        query = select(SessionRow).where(SessionRow.project_id == row.id)
        if agent is not None:
            query = query.where(SessionRow.agent_name == agent)
        if user is not None:
            query = query.where(SessionRow.user_id == user)
        if status == "error":
            query = query.where(SessionRow.error_count > 0)
        elif status == "ok":
            query = query.where(SessionRow.error_count == 0)
        if since is not None:
            query = query.where(SessionRow.last_seen >= since)
        if until is not None:
            query = query.where(SessionRow.first_seen < until)
        if cursor:
            moment, session_id = decode_cursor(cursor, 2)
            at = _cursor_time(moment)
            query = query.where(
                or_(
                    SessionRow.last_seen < at,
                    and_(SessionRow.last_seen == at, SessionRow.session_id < str(session_id)),
                )
            )
        query = query.order_by(SessionRow.last_seen.desc(), SessionRow.session_id.desc())
        rows = uow.scalars(query.limit(limit + 1)).all()
    page = [describe_session(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.last_seen.isoformat(), last.session_id)
    return Page[SessionSummary](data=page, next_cursor=next_cursor)


def get_session(rt: Runtime, actor: Principal, project: str, session_id: str) -> SessionSummary:
    with rt.db.read() as uow:
        project_row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        row = uow.scalars(
            select(SessionRow).where(
                SessionRow.project_id == project_row.id, SessionRow.session_id == session_id
            )
        ).one_or_none()
    if row is None:
        raise NotFound(
            f"no session {session_id!r} in project {project!r}.", code="session_not_found"
        )
    return describe_session(row)


def session_timeline(
    rt: Runtime,
    actor: Principal,
    project: str,
    session_id: str,
    *,
    limit: int = 200,
    cursor: str | None = None,
) -> Page[SpanSummary]:
    """The spans of a session in the order they started, across its traces."""
    with rt.db.read() as uow:
        project_row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        query = select(SpanRow.id, *SUMMARY_COLUMNS).where(
            SpanRow.project_id == project_row.id, SpanRow.session_id == session_id
        )
        if cursor:
            moment, last_id = decode_cursor(cursor, 2)
            at = _cursor_time(moment)
            query = query.where(
                or_(
                    SpanRow.start_time > at,
                    and_(SpanRow.start_time == at, SpanRow.id > int(last_id)),
                )
            )
        rows = (
            uow.connection()
            .execute(query.order_by(SpanRow.start_time, SpanRow.id).limit(limit + 1))
            .all()
        )
    page = [SpanSummary(**dict(zip(_SUMMARY_NAMES, r[1:], strict=True))) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.start_time.isoformat(), last.id)
    return Page[SpanSummary](data=page, next_cursor=next_cursor)


def handoff_graph(
    rt: Runtime,
    actor: Principal,
    project: str,
    *,
    session: str | None = None,
    agent: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> HandoffGraph:
    """The handoff graph of a session, or of an agent's traces in a time range.

    Nodes are agents and tools. A ``handoff`` edge A→B counts the spans of agent B started under
    a span of agent A, and the consecutive agent steps of one parent that pass from A to B; a
    ``tool_call`` edge A→T counts A's calls of tool T. For an agent, only the edges that touch it
    are kept.
    """
    columns = (
        SpanRow.trace_id,
        SpanRow.span_id,
        SpanRow.parent_span_id,
        SpanRow.span_type,
        SpanRow.agent_name,
        SpanRow.tool_name,
        SpanRow.start_time,
    )
    with rt.db.read() as uow:
        project_row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        if (session is None) == (agent is None):
            raise InvalidRequest(
                "give exactly one of session or agent.", code="graph_scope_required"
            )
        if session is not None:
            query = select(*columns).where(
                SpanRow.project_id == project_row.id, SpanRow.session_id == session
            )
        else:
            # The agent's traces in the range, found through the (project, start time) index.
            until = until or rt.clock.now()
            since = since or until - DEFAULT_GRAPH_RANGE
            traces = select(SpanRow.trace_id).where(
                SpanRow.project_id == project_row.id,
                SpanRow.start_time >= since,
                SpanRow.start_time < until,
                SpanRow.agent_name == agent,
            )
            trace_ids = list(
                uow.scalars(traces.distinct().order_by(SpanRow.trace_id).limit(MAX_GRAPH_TRACES))
            )
            query = select(*columns).where(
                SpanRow.project_id == project_row.id, SpanRow.trace_id.in_(trace_ids)
            )
        rows = uow.connection().execute(query).all()
    return build_graph(rows, focus=agent)


def build_graph(rows: Sequence[Any], *, focus: str | None = None) -> HandoffGraph:
    """The graph of a set of spans (rows with trace_id, span_id, parent_span_id, span_type,
    agent_name, tool_name, start_time)."""
    by_key = {(r.trace_id, r.span_id): r for r in rows}
    agent_spans: Counter[str] = Counter()
    tool_calls: Counter[str] = Counter()
    edges: Counter[tuple[str, str, str]] = Counter()
    steps_by_parent: dict[tuple[str, str | None], list[Any]] = {}
    for r in rows:
        if r.agent_name:
            agent_spans[r.agent_name] += r.span_type in ("agent", "handoff")
        if r.span_type == "tool" and r.tool_name:
            tool_calls[r.tool_name] += 1
            if r.agent_name:
                edges[(f"agent:{r.agent_name}", f"tool:{r.tool_name}", "tool_call")] += 1
        if r.span_type in ("agent", "handoff") and r.agent_name:
            parent = by_key.get((r.trace_id, r.parent_span_id)) if r.parent_span_id else None
            if parent is not None and parent.agent_name and parent.agent_name != r.agent_name:
                edges[(f"agent:{parent.agent_name}", f"agent:{r.agent_name}", "handoff")] += 1
            steps_by_parent.setdefault((r.trace_id, r.parent_span_id), []).append(r)
    for steps in steps_by_parent.values():
        steps.sort(key=lambda s: s.start_time)
        for before, after in itertools.pairwise(steps):
            if before.agent_name != after.agent_name:
                edges[(f"agent:{before.agent_name}", f"agent:{after.agent_name}", "handoff")] += 1
    if focus is not None:
        mine = f"agent:{focus}"
        edges = Counter({k: v for k, v in edges.items() if mine in (k[0], k[1])})
    used = {k[0] for k in edges} | {k[1] for k in edges}
    if focus is not None:
        used.add(f"agent:{focus}")
    nodes = [
        GraphNode(id=f"agent:{name}", kind="agent", name=name, spans=count)
        for name, count in sorted(agent_spans.items())
        if focus is None or f"agent:{name}" in used
    ] + [
        GraphNode(id=f"tool:{name}", kind="tool", name=name, spans=count)
        for name, count in sorted(tool_calls.items())
        if focus is None or f"tool:{name}" in used
    ]
    return HandoffGraph(
        nodes=nodes,
        edges=[
            GraphEdge(source=s, target=t, kind=kind, count=n)
            for (s, t, kind), n in sorted(edges.items())
        ],
        spans_examined=len(rows),
    )


def describe_trace(row: TraceRow) -> TraceSummary:
    return TraceSummary(
        trace_id=row.trace_id,
        name=row.name,
        root_span_id=row.root_span_id,
        start_time=row.start_time,
        end_time=row.end_time,
        duration_ms=(row.end_time - row.start_time).total_seconds() * 1000.0,
        status="error" if row.error_count else "ok",
        agent_name=row.agent_name,
        session_id=row.session_id,
        user_id=row.user_id,
        span_count=row.span_count,
        error_count=row.error_count,
        llm_calls=row.llm_calls,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
    )


def describe_session(row: SessionRow) -> SessionSummary:
    return SessionSummary(
        session_id=row.session_id,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        status="error" if row.error_count else "ok",
        agent_name=row.agent_name,
        user_id=row.user_id,
        span_count=row.span_count,
        error_count=row.error_count,
        llm_calls=row.llm_calls,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
    )


def _search_index(
    uow: Session,
    project_id: int,
    search: str,
    since: datetime | None,
    span_filters: list[ColumnElement[bool]],
) -> list[str] | None:
    """The traces holding a span that contains ``search`` (and passes ``span_filters``), found
    through the text index; ``None`` when walking the traces newest first and checking each one
    is the better plan: a query too short for the index, or one so common that more than
    :data:`SEARCH_CANDIDATES` spans hold it (the first page of those turns up early)."""
    if not span_search.is_indexable(search):
        return None
    # A trace starts with its earliest span, so spans before ``since`` are not in its traces.
    filters = [SpanRow.project_id == project_id, *span_filters]
    if since is not None:
        filters.append(SpanRow.start_time >= since)
    rows = span_search.matching_spans(uow, search, filters, SEARCH_CANDIDATES + 1)
    if len(rows) > SEARCH_CANDIDATES:
        return None
    return sorted({r.trace_id for r in rows})


def _trace_row(uow: Session, project_id: int, trace_id: str) -> TraceRow:
    row = uow.scalars(
        select(TraceRow).where(TraceRow.project_id == project_id, TraceRow.trace_id == trace_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no trace {trace_id} in this project.", code="trace_not_found")
    return row


def _depth_first(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans ordered parent before children (children by start time), with their depth.
    Spans whose parent is missing (not received, or purged) are shown as roots."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:  # already in start order
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    ordered: list[dict[str, Any]] = []
    stack = [(span, 0) for span in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        span["depth"] = depth
        ordered.append(span)
        stack.extend((child, depth + 1) for child in reversed(children.get(span["span_id"], [])))
    return ordered


def _hex_id(value: str, length: int, name: str) -> str:
    lowered = value.lower()
    if len(lowered) != length or any(c not in "0123456789abcdef" for c in lowered):
        raise InvalidRequest(f"{name} must be {length} hexadecimal characters.", code="invalid_id")
    return lowered


def _cursor_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidRequest(
            "the cursor is not one this server issued.", code="invalid_cursor"
        ) from exc
