"""What the detectors see of a stored session: its latest spans as :class:`SpanView`, in order.

A session's step numbers are positions in its timeline — spans ordered by start time (then by
storage order), 0 for the first — which is also the order ``GET …/sessions/{id}/timeline``
lists them in, so a finding's ``step`` can be looked up there. Only the latest
:data:`SESSION_WINDOW` spans are loaded: a session longer than that is judged on its latest part
(steps keep counting from the session's start), and its runaway totals come from the rollup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from corral.core.detection.model import SpanView
from corral.db.schema import SessionRow, SpanRow

if TYPE_CHECKING:
    from corral.core.detection.held import Held

SESSION_WINDOW = 2000
"""Spans of a session (its latest ones) the detectors look at each time it grows."""

HANDOFF_TARGET = ("corral.handoff.to", "gen_ai.handoff.target_agent", "to_agent")
"""Attributes naming the agent a handoff goes to, first match wins."""

TRACE_SCOPE = "trace:"
"""Prefix of the scope of spans that name no session: their trace stands in for it."""

_COLUMNS = (
    SpanRow.id,
    SpanRow.span_id,
    SpanRow.trace_id,
    SpanRow.parent_span_id,
    SpanRow.span_type,
    SpanRow.start_time,
    SpanRow.status,
    SpanRow.error_message,
    SpanRow.agent_name,
    SpanRow.tool_name,
    SpanRow.tool_arguments,
    SpanRow.tool_result,
    SpanRow.output_text,
    SpanRow.input_tokens,
    SpanRow.output_tokens,
    SpanRow.cost_usd,
    # Raw attributes are only worth reading for handoffs (they may name the target agent).
    case((SpanRow.span_type == "handoff", SpanRow.attributes), else_=None).label("attributes"),
)


@dataclass(frozen=True)
class SessionSpans:
    """The latest spans of a session (or trace) and, when those are not all of it, its totals."""

    scope: str
    session_id: str | None
    trace_id: str | None
    spans: list[SpanView]
    agent: str | None
    totals: tuple[int, int, float] | None

    @cached_property
    def by_step(self) -> dict[int, SpanView]:
        return {s.step: s for s in self.spans}

    @cached_property
    def by_id(self) -> dict[str, SpanView]:
        return {s.span_id: s for s in self.spans}


def scope_of(session_id: str | None, trace_id: str) -> str:
    """The unit detection runs on: the session, or the trace for spans with no session."""
    return session_id if session_id is not None else TRACE_SCOPE + trace_id


def span_view(source: Any, step: int) -> SpanView:
    """A :class:`SpanView` of a stored span (a row of ``spans``) or a ``NormalizedSpan``."""
    # Raw attributes only matter for handoffs (they may name the target agent).
    handoff_span = source.span_type == "handoff"
    attributes = (getattr(source, "attributes", None) or {}) if handoff_span else {}
    handoff = None
    if attributes:
        handoff = next((attributes[k] for k in HANDOFF_TARGET if attributes.get(k)), None)
    return SpanView(
        span_id=source.span_id,
        trace_id=source.trace_id,
        step=step,
        span_type=source.span_type,
        start_time=source.start_time,
        parent_span_id=source.parent_span_id,
        status=source.status,
        error_message=source.error_message,
        agent_name=source.agent_name,
        tool_name=source.tool_name,
        tool_arguments=source.tool_arguments,
        tool_result=source.tool_result,
        output_text=source.output_text,
        input_tokens=source.input_tokens or 0,
        output_tokens=source.output_tokens or 0,
        cost_usd=source.cost_usd or 0.0,
        handoff_to=str(handoff) if handoff is not None else None,
        attributes=attributes,
    )


def views(rows: Sequence[Any], first_step: int = 0) -> list[SpanView]:
    """Rows in timeline order as views, numbered from ``first_step``."""
    return [span_view(row, first_step + index) for index, row in enumerate(rows)]


def load_scope(
    uow: Session, project_id: int, scope: str, *, window: int = SESSION_WINDOW
) -> SessionSpans:
    """The latest ``window`` spans of a session (or a sessionless trace), oldest first."""
    if scope.startswith(TRACE_SCOPE):
        trace_id = scope[len(TRACE_SCOPE) :]
        condition = (
            (SpanRow.project_id == project_id)
            & (SpanRow.trace_id == trace_id)
            & SpanRow.session_id.is_(None)
        )
        session_id = None
    else:
        trace_id = None
        condition = (SpanRow.project_id == project_id) & (SpanRow.session_id == scope)
        session_id = scope
    latest = (
        uow.connection()
        .execute(
            select(*_COLUMNS)
            .where(condition)
            .order_by(SpanRow.start_time.desc(), SpanRow.id.desc())
            .limit(window + 1)
        )
        .all()
    )
    truncated = len(latest) > window
    rows = list(reversed(latest[:window]))
    totals = None
    first_step = 0
    if truncated:
        first_step, totals = _earlier_part(uow, condition, rows[0])
    spans = views(rows, first_step)
    agent = _session_agent(uow, project_id, session_id) if session_id is not None else None
    if agent is None:
        agent = next((s.agent_name for s in spans if s.agent_name), None)
    return SessionSpans(scope, session_id, trace_id, spans, agent, totals)


def load_scopes(
    uow: Session,
    project_id: int,
    scopes: Sequence[str],
    *,
    window: int = SESSION_WINDOW,
    held: Mapping[str, Held] | None = None,
) -> dict[str, SessionSpans]:
    """:func:`load_scope` for many scopes at once: the sessions that fit in the window (most of
    them) are read together, in one query per 200 sessions, so that a detection pass over a
    busy project costs a few round trips rather than a few per session.

    A session in ``held`` whose views are all of it (as many as its rollup counts, in a known
    order) is not read at all."""
    sessions = [s for s in scopes if not s.startswith(TRACE_SCOPE)]
    loaded: dict[str, SessionSpans] = {}
    sizes: dict[str, tuple[int, str | None]] = {}
    for chunk in _chunks(sessions, 200):
        for session_id, count, agent in uow.execute(
            select(SessionRow.session_id, SessionRow.span_count, SessionRow.agent_name).where(
                SessionRow.project_id == project_id, SessionRow.session_id.in_(chunk)
            )
        ):
            sizes[session_id] = (count, agent)
    small = []
    for session_id in sessions:
        if session_id not in sizes or sizes[session_id][0] > window:
            continue
        count, agent = sizes[session_id]
        kept = held.get(session_id) if held is not None else None
        if kept is not None and kept.exact and len(kept.views) == count:
            agent = agent or next((s.agent_name for s in kept.views if s.agent_name), None)
            loaded[session_id] = SessionSpans(session_id, session_id, None, kept.views, agent, None)
        else:
            small.append(session_id)
    for chunk in _chunks(small, 200):
        rows: dict[str, list[Any]] = {s: [] for s in chunk}
        for row in uow.connection().execute(
            select(SpanRow.session_id, *_COLUMNS)
            .where(SpanRow.project_id == project_id, SpanRow.session_id.in_(chunk))
            .order_by(SpanRow.session_id, SpanRow.start_time, SpanRow.id)
        ):
            rows[row.session_id].append(row)
        for session_id, members in rows.items():
            if len(members) > window:  # grew since the rollup was read
                continue
            spans = views(members)
            agent = sizes[session_id][1] or next(
                (s.agent_name for s in spans if s.agent_name), None
            )
            loaded[session_id] = SessionSpans(session_id, session_id, None, spans, agent, None)
    for scope in scopes:
        if scope not in loaded and (scope.startswith(TRACE_SCOPE) or scope in sizes):
            loaded[scope] = load_scope(uow, project_id, scope, window=window)
    return {scope: loaded[scope] for scope in scopes if scope in loaded}


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _earlier_part(uow: Session, condition: Any, first: Any) -> tuple[int, tuple[int, int, float]]:
    """For a session longer than the window, in one pass over it: how many spans precede the
    window (the window's first step) and the whole session's steps, tokens and cost."""
    before = (SpanRow.start_time < first.start_time) | (
        (SpanRow.start_time == first.start_time) & (SpanRow.id < first.id)
    )
    earlier, steps, tokens_in, tokens_out, cost = uow.execute(
        select(
            func.count(case((before, 1))),
            func.count(case((SpanRow.span_type.in_(("llm", "tool")), 1))),
            func.coalesce(func.sum(SpanRow.input_tokens), 0),
            func.coalesce(func.sum(SpanRow.output_tokens), 0),
            func.coalesce(func.sum(SpanRow.cost_usd), 0.0),
        ).where(condition)
    ).one()
    return int(earlier), (int(steps), int(tokens_in or 0) + int(tokens_out or 0), float(cost or 0))


def _session_agent(uow: Session, project_id: int, session_id: str) -> str | None:
    return uow.scalar(
        select(SessionRow.agent_name).where(
            SessionRow.project_id == project_id, SessionRow.session_id == session_id
        )
    )
