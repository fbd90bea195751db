"""The span store: one write path for every span Corral keeps.

OTLP ingest calls :func:`record_spans` with the spans it decoded and normalized; the gateway calls
it with the spans of the LLM calls it forwards. One call is one transaction: the spans go in as
one batched insert, the trace and session rollups as one upsert each, and the caller may
acknowledge the spans as soon as it returns. Listeners registered on the runtime
(``rt.span_listeners``) are then called with what was committed; detectors hook in there.

On SQLite one transaction writes at a time, and every Python step inside it is slowed by the
other threads of the process: so the rows, the trace fields and the rollups are worked out
before it, from what was stored at that moment (:class:`_Plan`). The transaction only checks
that this is still so — one query, two when the batch continues traces already stored — and
runs the prepared statements; in the rare case something changed meanwhile (another request
stored the same traces), the batch is planned again inside.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect, Select, Table, and_, case, or_, select
from sqlalchemy.orm import Session

from corral.core.group_commit import defer_before_commit, group_committer
from corral.core.normalize import NormalizedSpan
from corral.core.pricing import PriceBook, TokenUsage
from corral.core.projects import touch_project, touch_statement
from corral.core.runtime import Runtime
from corral.db.bulk import (
    BoundStatements,
    bind_processors,
    bind_rows,
    insert_ignoring_conflicts_statements,
    run_bound,
    run_bound_returning,
)
from corral.db.schema import AgentActivityRow, CostDailyRow, SessionRow, SpanRow, TraceRow
from corral.db.upsert import bound_rollup_rows, rollup_statements
from corral.db.write_process import ConditionalWrite, driver_statement, sorted_rows

log = logging.getLogger("corral.spans")

_SPANS: Table = SpanRow.__table__  # type: ignore[assignment]
_TRACES: Table = TraceRow.__table__  # type: ignore[assignment]
_SESSIONS: Table = SessionRow.__table__  # type: ignore[assignment]
_COSTS: Table = CostDailyRow.__table__  # type: ignore[assignment]
_AGENTS: Table = AgentActivityRow.__table__  # type: ignore[assignment]


@dataclass
class StoredBatch:
    """What one call to the store committed in one project."""

    project_id: int
    spans: list[NormalizedSpan] = field(default_factory=list)
    duplicates: int = 0


@dataclass
class Rollups:
    """Rollup rows of one batch, converted for the driver, waiting to be folded into the
    trace, session, cost and agent tables: each entry is (columns, rows)."""

    traces: tuple[tuple[str, ...], list[tuple[Any, ...]]]
    sessions: tuple[tuple[str, ...], list[tuple[Any, ...]]]
    costs: tuple[tuple[str, ...], list[tuple[Any, ...]]]
    agents: tuple[tuple[str, ...], list[tuple[Any, ...]]]

    @staticmethod
    def of(dialect: Dialect, project_id: int, spans: list[NormalizedSpan]) -> Rollups:
        """The rollup rows of freshly stored spans (their trace fields filled in)."""
        return Rollups(
            bound_rollup_rows(dialect, _TRACES, _trace_rows(project_id, spans)),
            bound_rollup_rows(dialect, _SESSIONS, _session_rows(project_id, spans)),
            bound_rollup_rows(dialect, _COSTS, _cost_rows(project_id, spans)),
            bound_rollup_rows(dialect, _AGENTS, _agent_rows(project_id, spans)),
        )

    @staticmethod
    def apply_all(uow: Session, batches: list[Rollups]) -> None:
        """Fold the rollups of every batch of a transaction (see :meth:`statements`)."""
        run_bound(uow, Rollups.statements(uow.get_bind().dialect, batches))

    @staticmethod
    def statements(dialect: Dialect, batches: list[Rollups]) -> BoundStatements:
        """The statements folding the rollups of every batch of a transaction: one per table,
        in key order (replicas then lock rollup rows in one global order: no deadlocks)."""
        statements: BoundStatements = []
        for name, table, options in _ROLLUP_TABLES:
            parts = [getattr(batch, name) for batch in batches]
            rows = [row for _, part in parts for row in part]
            if rows:
                columns = next(columns for columns, part in parts if part)
                statements += rollup_statements(dialect, table, columns, rows, **options)
        return statements


SpanListener = Callable[[StoredBatch], None]
"""Called after commit with each project's newly stored spans; it must not raise (errors are
logged) and should be quick, since it runs on the ingest request."""


def record_spans(
    rt: Runtime,
    batches: Iterable[tuple[int, Sequence[NormalizedSpan]]],
    *,
    default_agent: str | None = None,
    price_book: PriceBook | None = None,
    along: Callable[[Session, datetime], None] | None = None,
    durable: bool = True,
) -> list[StoredBatch]:
    """Store spans of one or more projects in one transaction, then notify the listeners.

    Args:
        rt: The runtime.
        batches: ``(project_id, spans)`` pairs; the spans are normalized already.
        default_agent: Agent name for spans that name none (the agent whose key sent them).
        price_book: Prices for spans without a cost; the bundled table by default.
        along: More write work committed with the spans, or not at all (the gateway settles a
            call's budget hold with the call's span).
        durable: Wait for the commit to reach the disk (see :meth:`Database.write`).
    """
    work = [(project_id, spans) for project_id, spans in batches if spans]

    def write(uow: Session, now: datetime) -> list[StoredBatch]:
        rollups: list[Rollups] = []
        stored = [_write_planned(uow, plan, rollups) for plan in plans]
        if along is not None:
            along(uow, now)
        # The rollups of every request sharing this transaction are written together, in key
        # order, just before the commit: replicas then lock rollup rows in one global order and
        # cannot deadlock each other.
        defer_before_commit(uow, "span_rollups", Rollups.apply_all, rollups)
        return stored

    if price_book is None:
        from corral.core.prices import price_book_for

        price_book = price_book_for(rt)
    for _, spans in work:
        _price(spans, price_book)
    received = rt.clock.now()
    dialect = rt.db.engine.dialect
    recent = _recent_traces(rt)
    # Only SQLite plans from a read of its own: a write on PostgreSQL does not wait for a single
    # write slot, so it reads once, inside its transaction.
    single_writer = rt.db.single_writer
    if single_writer and any(recent.continues(project_id, spans) for project_id, spans in work):
        with rt.db.read() as uow:
            plans = [
                _plan_batch(dialect, project_id, spans, default_agent, received, read=uow)
                for project_id, spans in work
            ]
    else:  # new traces, as far as this process knows (or PostgreSQL): the write checks it
        plans = [
            _plan_batch(dialect, project_id, spans, default_agent, received)
            for project_id, spans in work
        ]
    stored: list[StoredBatch] | None = None
    if along is None and plans:
        # On SQLite with a write process (corral serve), the plans are written from there.
        written = rt.db.conditional_write(_conditional_write(rt.db.engine.dialect, plans, durable))
        if written:
            stored = [_stored_batch(plan) for plan in plans]
    if stored is None:
        stored = group_committer(rt, durable=durable).run(write)
    for project_id, spans in work:
        recent.add(project_id, spans)
    for batch in stored:
        if not batch.spans:
            continue
        for listener in list(rt.span_listeners):
            try:
                listener(batch)
            except Exception:  # a listener must not turn an acknowledged write into an error
                log.exception("span listener %r failed", listener)
    return stored


@dataclass
class _Plan:
    """One project's spans made ready for their write transaction from what was stored when
    the plan was made (``known``: the batch's traces already stored, with their fields;
    ``stored``: which of the batch's spans are). The transaction checks both again."""

    project_id: int
    spans: Sequence[NormalizedSpan]
    heads: list[tuple[Any, ...]]
    default_agent: str | None
    received_at: datetime
    known: dict[str, _TraceFields]
    stored: set[tuple[str, str]]
    own_fields: list[_TraceFields]
    """Each span's session, user and agent as it came, before its trace filled them in."""
    fresh: list[NormalizedSpan] = field(default_factory=list)
    inserts: BoundStatements = field(default_factory=list)
    rollups: Rollups | None = None


def _plan_batch(
    dialect: Dialect,
    project_id: int,
    spans: Sequence[NormalizedSpan],
    default_agent: str | None,
    received: datetime,
    *,
    read: Session | None = None,
) -> _Plan:
    """Plan a batch from what a read transaction sees stored, or, without one, as spans of new
    traces (see the module docstring)."""
    known = _stored_traces(read, project_id, spans) if read is not None else {}
    plan = _Plan(
        project_id=project_id,
        spans=spans,
        heads=span_heads(dialect, project_id, spans),
        default_agent=default_agent,
        received_at=received,
        known=known,
        stored=_stored_span_ids(read, project_id, spans, known) if read is not None else set(),
        own_fields=[(s.session_id, s.user_id, s.agent_name) for s in spans],
    )
    _fill_plan(plan, dialect)
    return plan


def _fill_plan(plan: _Plan, dialect: Dialect) -> None:
    """The plan's fresh spans with their trace fields, their rows and rollups."""
    kept = _without_duplicates(plan.spans, plan.stored)
    fresh = [plan.spans[i] for i in kept]
    _fill_trace_fields(fresh, plan.known, plan.default_agent)
    (received,) = bind_rows(dialect, _SPANS, ("received_at",), [(plan.received_at,)])
    plan.fresh = fresh
    rows = [
        plan.heads[i] + (s.agent_name, s.session_id, s.user_id, *received)
        for i, s in zip(kept, fresh, strict=True)
    ]
    if dialect.name != "sqlite":
        # PostgreSQL writes several transactions at once: rows inserted in one order (trace,
        # span) make two exports holding the same spans wait for each other, never deadlock.
        rows.sort(key=_TRACE_AND_SPAN)
    plan.inserts = insert_ignoring_conflicts_statements(dialect, _SPANS, SPAN_COLUMNS, rows)
    plan.rollups = Rollups.of(dialect, plan.project_id, fresh) if fresh else None


_TRACE_AND_SPAN = itemgetter(1, 2)
"""A span row's trace and span ids (see :data:`SPAN_COLUMNS`)."""


def _conditional_write(dialect: Dialect, plans: list[_Plan], durable: bool) -> ConditionalWrite:
    """The plans as one write that commits only if what they were planned from still holds."""
    request = ConditionalWrite(durable=durable)
    for plan in plans:
        for chunk in _chunks(sorted({s.trace_id for s in plan.spans}), 500):
            sql, parameters = driver_statement(dialect, _traces_query(plan.project_id, chunk))
            rows = sorted_rows((t, *plan.known[t]) for t in chunk if t in plan.known)
            request.expected.append((sql, parameters, rows))
        for ids in _continued_span_ids(plan.spans, plan.known):
            sql, parameters = driver_statement(dialect, _spans_query(plan.project_id, ids))
            rows = sorted_rows(pair for pair in _pairs(ids) if pair in plan.stored)
            request.expected.append((sql, parameters, rows))
        if plan.fresh:
            request.statements.extend(plan.inserts)
            request.statements.append(
                driver_statement(dialect, touch_statement(plan.project_id, plan.received_at))
            )
    request.statements.extend(
        Rollups.statements(dialect, [plan.rollups for plan in plans if plan.rollups])
    )
    return request


def _stored_batch(plan: _Plan) -> StoredBatch:
    return StoredBatch(
        project_id=plan.project_id,
        spans=plan.fresh,
        duplicates=len(plan.spans) - len(plan.fresh),
    )


def _write_planned(uow: Session, plan: _Plan, rollups: list[Rollups]) -> StoredBatch:
    """Write a planned batch inside the caller's unit of work, planning it again first if what
    is stored changed since (spans already stored — an exporter's retry — are skipped and not
    counted twice); its rollups are appended to ``rollups``."""
    known = _stored_traces(uow, plan.project_id, plan.spans)
    stored = _stored_span_ids(uow, plan.project_id, plan.spans, known)
    if known != plan.known or stored != plan.stored:
        for span, (session_id, user_id, agent_name) in zip(
            plan.spans, plan.own_fields, strict=True
        ):
            span.session_id, span.user_id, span.agent_name = session_id, user_id, agent_name
        plan.known, plan.stored = known, stored
        _fill_plan(plan, uow.get_bind().dialect)
    if plan.fresh:
        dialect = uow.get_bind().dialect
        if dialect.name == "sqlite":  # one writer at a time: the read above still holds
            run_bound(uow, plan.inserts)
        else:
            inserted = set(run_bound_returning(uow, plan.inserts, ("trace_id", "span_id")))
            if len(inserted) < len(plan.fresh):
                # Another transaction stored some of these spans since the read: they are
                # duplicates, left out of this batch and of its rollups.
                plan.fresh = [s for s in plan.fresh if (s.trace_id, s.span_id) in inserted]
                plan.rollups = Rollups.of(dialect, plan.project_id, plan.fresh)
    if plan.fresh:
        touch_project(uow, plan.project_id, plan.received_at)
        assert plan.rollups is not None
        rollups.append(plan.rollups)
    return _stored_batch(plan)


RECENT_TRACES = 100_000
"""Traces a process remembers having stored (a few megabytes)."""


class RecentTraces:
    """The traces this process stored lately (bounded, the oldest forgotten first). A batch
    that continues none of them is planned as a batch of new traces without reading what is
    stored: the write checks it all the same, and plans it again if another process or replica
    stored some of them meanwhile. Exporters send most traces whole, or their parts from one
    process, so the read is spared for most batches."""

    def __init__(self, capacity: int = RECENT_TRACES) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[int, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def continues(self, project_id: int, spans: Sequence[NormalizedSpan]) -> bool:
        with self._lock:
            return any((project_id, s.trace_id) in self._seen for s in spans)

    def add(self, project_id: int, spans: Sequence[NormalizedSpan]) -> None:
        with self._lock:
            for key in dict.fromkeys((project_id, s.trace_id) for s in spans):
                self._seen[key] = None
                self._seen.move_to_end(key)
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)


def _recent_traces(rt: Runtime) -> RecentTraces:
    recent = rt.extensions.get("recent_traces")
    if recent is None:
        with _recent_lock:
            recent = rt.extensions.setdefault("recent_traces", RecentTraces())
    assert isinstance(recent, RecentTraces)
    return recent


_recent_lock = threading.Lock()

_TraceFields = tuple[str | None, str | None, str | None]
"""What a stored trace says of its spans: session, user and agent."""


def _stored_traces(
    uow: Session, project_id: int, spans: Sequence[NormalizedSpan]
) -> dict[str, _TraceFields]:
    """The batch's traces already stored, with their session, user and agent. A trace's rollup
    row is committed with its first spans and deleted with its last, so a trace not found here
    has no span stored yet: one query serves both the duplicate check and the trace fields."""
    trace_ids = sorted({s.trace_id for s in spans})
    known: dict[str, _TraceFields] = {}
    for chunk in _chunks(trace_ids, 500):
        for row in uow.connection().execute(_traces_query(project_id, chunk)):
            known[row[0]] = (row[1], row[2], row[3])
    return known


def _traces_query(
    project_id: int, trace_ids: Sequence[str]
) -> Select[str, str | None, str | None, str | None]:
    return select(
        TraceRow.trace_id, TraceRow.session_id, TraceRow.user_id, TraceRow.agent_name
    ).where(TraceRow.project_id == project_id, TraceRow.trace_id.in_(trace_ids))


_SpanIds = list[tuple[str, list[str]]]
"""Span ids grouped by trace: (trace id, span ids)."""


def _spans_query(project_id: int, ids: _SpanIds) -> Select[str, str]:
    """Which of ``ids`` are stored: one index lookup each, whatever else their traces hold."""
    return select(SpanRow.trace_id, SpanRow.span_id).where(
        or_(
            *(
                and_(
                    SpanRow.project_id == project_id,
                    SpanRow.trace_id == trace_id,
                    SpanRow.span_id.in_(span_ids),
                )
                for trace_id, span_ids in ids
            )
        )
    )


def _continued_span_ids(
    spans: Sequence[NormalizedSpan], known: dict[str, _TraceFields], size: int = 500
) -> Iterable[_SpanIds]:
    """The ids of the spans of traces already stored (``known``), in chunks of about ``size``
    ids: a batch continuing a long trace looks up its own spans, not all of the trace's."""
    by_trace: dict[str, list[str]] = {}
    for span in spans:
        if span.trace_id in known:
            by_trace.setdefault(span.trace_id, []).append(span.span_id)
    chunk: _SpanIds = []
    count = 0
    for trace_id in sorted(by_trace):
        span_ids = sorted(set(by_trace[trace_id]))
        for start in range(0, len(span_ids), size):
            part = span_ids[start : start + size]
            if count + len(part) > size and chunk:
                yield chunk
                chunk, count = [], 0
            chunk.append((trace_id, part))
            count += len(part)
    if chunk:
        yield chunk


def _pairs(ids: _SpanIds) -> Iterable[tuple[str, str]]:
    return ((trace_id, span_id) for trace_id, span_ids in ids for span_id in span_ids)


def _stored_span_ids(
    uow: Session,
    project_id: int,
    spans: Sequence[NormalizedSpan],
    known: dict[str, _TraceFields],
) -> set[tuple[str, str]]:
    """Which of the spans are stored already: (trace, span) ids. Only spans of ``known`` traces
    can be, since a trace's rollup row is committed with its first spans."""
    stored: set[tuple[str, str]] = set()
    for chunk in _continued_span_ids(spans, known):
        stored.update(
            (row[0], row[1]) for row in uow.connection().execute(_spans_query(project_id, chunk))
        )
    return stored


def _without_duplicates(spans: Sequence[NormalizedSpan], stored: set[tuple[str, str]]) -> list[int]:
    """The positions of the spans not ``stored`` yet (nor earlier in ``spans``)."""
    seen = set(stored)
    fresh = []
    for index, span in enumerate(spans):
        key = (span.trace_id, span.span_id)
        if key not in seen:
            seen.add(key)
            fresh.append(index)
    return fresh


def _fill_trace_fields(
    spans: Sequence[NormalizedSpan], known: dict[str, _TraceFields], default_agent: str | None
) -> None:
    by_trace: dict[str, list[NormalizedSpan]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    for trace_id, members in by_trace.items():
        stored_session, stored_user, stored_agent = known.get(trace_id, (None, None, None))
        ordered = sorted(members, key=lambda s: s.parent_span_id is not None)  # roots first
        session = next((s.session_id for s in ordered if s.session_id), stored_session)
        user = next((s.user_id for s in ordered if s.user_id), stored_user)
        root_agent = next(
            (s.agent_name for s in ordered if s.parent_span_id is None and s.agent_name),
            stored_agent,
        )
        by_id = {s.span_id: s for s in members}
        for span in members:
            if span.session_id is None:
                span.session_id = session
            if span.user_id is None:
                span.user_id = user
            if span.agent_name is None:
                span.agent_name = _ancestor_agent(span, by_id) or root_agent or default_agent


def _ancestor_agent(span: NormalizedSpan, by_id: dict[str, NormalizedSpan]) -> str | None:
    parent_id, hops = span.parent_span_id, 0
    while parent_id is not None and hops < 256:
        parent = by_id.get(parent_id)
        if parent is None:
            return None
        if parent.agent_name:
            return parent.agent_name
        parent_id, hops = parent.parent_span_id, hops + 1
    return None


def _price(spans: Sequence[NormalizedSpan], book: PriceBook) -> None:
    for span in spans:
        if span.cost_usd is not None or span.model is None:
            continue
        if span.input_tokens is None and span.output_tokens is None:
            continue
        usage = TokenUsage(
            input_tokens=span.input_tokens or 0,
            output_tokens=span.output_tokens or 0,
            cache_read_tokens=span.cache_read_tokens or 0,
            cache_write_tokens=span.cache_write_tokens or 0,
            reasoning_tokens=span.reasoning_tokens or 0,
        )
        result = book.price_call(span.provider, span.model, usage, span.start_time)
        if result is not None:
            span.cost_usd, span.price_version = result.usd, result.price_version


SPAN_HEAD_COLUMNS = (
    "project_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "span_type",
    "status",
    "error_message",
    "start_time",
    "end_time",
    "duration_ms",
    "service_name",
    "agent_id",
    "agent_version",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "price_version",
    "tool_name",
    "tool_arguments",
    "tool_result",
    "input_text",
    "output_text",
    "attributes",
    "events",
    "resource",  # last: converted once per resource, not once per span (see span_heads)
)
"""The columns of a span row known before its write transaction."""
SPAN_COLUMNS = (*SPAN_HEAD_COLUMNS, "agent_name", "session_id", "user_id", "received_at")
"""Every column written: the head, then those filled in from the trace already stored, and when
the spans were received."""


def span_heads(
    dialect: Dialect, project_id: int, spans: Sequence[NormalizedSpan]
) -> list[tuple[Any, ...]]:
    """The spans' rows in :data:`SPAN_HEAD_COLUMNS` order, converted for the driver.

    The spans of one resource share its attributes (one dict): they are converted once."""
    (convert_resource,) = bind_processors(dialect, _SPANS, ("resource",))
    resources: dict[int, tuple[Any]] = {}
    for span in spans:
        resource = span.resource
        if id(resource) not in resources:
            bound: Any = resource
            if resource is not None and convert_resource is not None:
                bound = convert_resource(resource)
            resources[id(resource)] = (bound,)
    rows = bind_rows(
        dialect,
        _SPANS,
        SPAN_HEAD_COLUMNS[:-1],
        [
            (
                project_id,
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.name,
                s.kind,
                s.span_type,
                s.status,
                s.error_message,
                s.start_time,
                s.end_time,
                s.duration_ms,
                s.service_name,
                s.agent_id,
                s.agent_version,
                s.model,
                s.provider,
                s.input_tokens,
                s.output_tokens,
                s.cache_read_tokens,
                s.cache_write_tokens,
                s.reasoning_tokens,
                s.cost_usd,
                s.price_version,
                s.tool_name,
                s.tool_arguments,
                s.tool_result,
                s.input_text,
                s.output_text,
                s.attributes,
                s.events,
            )
            for s in spans
        ],
    )
    return [row + resources[id(s.resource)] for row, s in zip(rows, spans, strict=True)]


def _totals(spans: Iterable[NormalizedSpan]) -> dict[str, Any]:
    span_count = error_count = llm_calls = input_tokens = output_tokens = 0
    cost = 0.0
    for span in spans:
        span_count += 1
        error_count += span.status == "error"
        llm_calls += span.span_type == "llm"
        input_tokens += span.input_tokens or 0
        output_tokens += span.output_tokens or 0
        cost += span.cost_usd or 0.0
    return {
        "span_count": span_count,
        "error_count": error_count,
        "llm_calls": llm_calls,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost_usd": cost,
    }


_COUNTERS = ("span_count", "error_count", "llm_calls", "input_tokens", "output_tokens", "cost_usd")


def _trace_rows(project_id: int, spans: list[NormalizedSpan]) -> list[dict[str, Any]]:
    rows = []
    for trace_id, members in _group(spans, lambda s: s.trace_id).items():
        root = next((s for s in members if s.parent_span_id is None), None)
        first = min(members, key=lambda s: s.start_time)
        rows.append(
            {
                "project_id": project_id,
                "trace_id": trace_id,
                "name": (root or first).name,
                "root_span_id": root.span_id if root else None,
                "start_time": first.start_time,
                "end_time": max(s.end_time for s in members),
                "agent_name": (root or first).agent_name,
                "session_id": first.session_id,
                "user_id": first.user_id,
                **_totals(members),
            }
        )

    return rows


_TRACE_KEY = ("project_id", "trace_id")


def _root_wins(table: Any, excluded: Any) -> dict[str, Any]:
    """When a trace's root span arrives, its name and agent become the trace's."""
    arrived = excluded.root_span_id.is_not(None)
    return {
        "name": case((arrived, excluded.name), else_=table.c.name),
        "root_span_id": case((arrived, excluded.root_span_id), else_=table.c.root_span_id),
        "agent_name": case(
            (and_(arrived, excluded.agent_name.is_not(None)), excluded.agent_name),
            else_=table.c.agent_name,
        ),
    }


_TRACE_OPTIONS: dict[str, Any] = {
    "key": _TRACE_KEY,
    "add": _COUNTERS,
    "least": ("start_time",),
    "greatest": ("end_time",),
    "keep_first": ("session_id", "user_id"),
    "override": _root_wins,
}


def _session_rows(project_id: int, spans: list[NormalizedSpan]) -> list[dict[str, Any]]:
    rows = []
    for session_id, members in _group(spans, lambda s: s.session_id).items():
        if session_id is None:
            continue
        first = min(members, key=lambda s: s.start_time)
        rows.append(
            {
                "project_id": project_id,
                "session_id": session_id,
                "first_seen": first.start_time,
                "last_seen": max(s.end_time for s in members),
                "agent_name": first.agent_name,
                "user_id": first.user_id,
                **_totals(members),
            }
        )
    return rows


_COST_COUNTERS = (
    "calls",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
)


def _cost_rows(project_id: int, spans: list[NormalizedSpan]) -> list[dict[str, Any]]:
    """Model calls folded per day, agent, user, model and provider (the cost report's grain)."""
    folded: dict[tuple[Any, ...], dict[str, Any]] = {}
    for span in spans:
        if span.span_type not in ("llm", "embedding"):
            continue
        key = (
            span.start_time.astimezone(UTC).date(),
            span.agent_name or "",
            span.user_id or "",
            span.model or "",
            span.provider or "",
        )
        row = folded.get(key)
        if row is None:
            row = folded[key] = {
                "project_id": project_id,
                "day": key[0],
                "agent": key[1],
                "user_id": key[2],
                "model": key[3],
                "provider": key[4],
                **dict.fromkeys(_COST_COUNTERS, 0),
            }
            row["cost_usd"] = 0.0
        row["calls"] += 1
        row["errors"] += span.status == "error"
        row["input_tokens"] += span.input_tokens or 0
        row["output_tokens"] += span.output_tokens or 0
        row["cache_read_tokens"] += span.cache_read_tokens or 0
        row["cache_write_tokens"] += span.cache_write_tokens or 0
        row["reasoning_tokens"] += span.reasoning_tokens or 0
        row["cost_usd"] += span.cost_usd or 0.0
    return list(folded.values())


_COST_KEY = ("project_id", "day", "agent", "user_id", "model", "provider")
_COST_OPTIONS: dict[str, Any] = {"key": _COST_KEY, "add": _COST_COUNTERS}


def _agent_rows(project_id: int, spans: list[NormalizedSpan]) -> list[dict[str, Any]]:
    return [
        {
            "project_id": project_id,
            "agent_name": agent,
            "first_seen": min(s.start_time for s in members),
            "last_seen": max(s.end_time for s in members),
            "span_count": len(members),
        }
        for agent, members in _group(spans, lambda s: s.agent_name).items()
        if agent is not None
    ]


_AGENT_KEY = ("project_id", "agent_name")
_AGENT_OPTIONS: dict[str, Any] = {
    "key": _AGENT_KEY,
    "add": ("span_count",),
    "least": ("first_seen",),
    "greatest": ("last_seen",),
}


_SESSION_KEY = ("project_id", "session_id")
_SESSION_OPTIONS: dict[str, Any] = {
    "key": _SESSION_KEY,
    "add": _COUNTERS,
    "least": ("first_seen",),
    "greatest": ("last_seen",),
    "keep_first": ("agent_name", "user_id"),
}


def _group(
    spans: Iterable[NormalizedSpan], key: Callable[[NormalizedSpan], Any]
) -> dict[Any, list[NormalizedSpan]]:
    groups: dict[Any, list[NormalizedSpan]] = {}
    for span in spans:
        groups.setdefault(key(span), []).append(span)
    return groups


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_ROLLUP_TABLES: tuple[tuple[str, Table, dict[str, Any]], ...] = (
    ("traces", _TRACES, _TRACE_OPTIONS),
    ("sessions", _SESSIONS, _SESSION_OPTIONS),
    ("costs", _COSTS, _COST_OPTIONS),
    ("agents", _AGENTS, _AGENT_OPTIONS),
)
"""Each rollup table: the Rollups field holding its rows, and how rows fold into it."""
