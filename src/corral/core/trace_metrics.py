"""Metrics over time from spans: calls, tokens, cost, errors and latency percentiles.

Grouped by agent, project, user or model, in minute, hour or day buckets. Sums could be done by
the database, but percentiles cannot be done the same way on SQLite and PostgreSQL; the spans of
the range are streamed once (through the time index) and folded here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from corral.core.access import Principal, resolve_project
from corral.core.runtime import Runtime
from corral.db.schema import ProjectRow, SpanRow
from corral.errors import InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.observability import (
    MetricPoint,
    MetricsGroup,
    MetricsInterval,
    SpanType,
    TraceMetrics,
)

INTERVALS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_BUCKETS = 2000


@dataclass
class _Bucket:
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    durations: list[float] = field(default_factory=list)


def trace_metrics(
    rt: Runtime,
    actor: Principal,
    *,
    projects: list[str] | None = None,
    group_by: MetricsGroup = "agent",
    interval: MetricsInterval = "hour",
    span_type: SpanType | None = "llm",
    since: datetime | None = None,
    until: datetime | None = None,
) -> TraceMetrics:
    """Metrics of the spans of ``projects`` (default: every project the caller may read)."""
    until = until or rt.clock.now()
    since = since or until - timedelta(days=1)
    step = INTERVALS[interval]
    if since >= until:
        raise InvalidRequest("since must be before until.", code="invalid_time_range")
    if (until - since) / step > MAX_BUCKETS:
        raise InvalidRequest(
            f"that range holds more than {MAX_BUCKETS} {interval} buckets; use a longer interval "
            "or a shorter range.",
            code="too_many_buckets",
        )
    with rt.db.read() as uow:
        if projects:
            rows = [resolve_project(uow, actor, n, Permission.TRACES_READ) for n in projects]
        else:
            query = select(ProjectRow).order_by(ProjectRow.name)
            scope = actor.project_scope()
            if scope is not None:
                query = query.where(ProjectRow.id.in_(scope))
            rows = [r for r in uow.scalars(query) if actor.may(Permission.TRACES_READ, r.id)]
        names = {r.id: r.name for r in rows}
        group_column = {
            "agent": SpanRow.agent_name,
            "project": SpanRow.project_id,
            "user": SpanRow.user_id,
            "model": SpanRow.model,
        }[group_by]
        spans = select(
            SpanRow.start_time,
            group_column,
            SpanRow.status,
            SpanRow.input_tokens,
            SpanRow.output_tokens,
            SpanRow.cost_usd,
            SpanRow.duration_ms,
        ).where(
            SpanRow.project_id.in_(list(names)),
            SpanRow.start_time >= since,
            SpanRow.start_time < until,
        )
        if span_type is not None:
            spans = spans.where(SpanRow.span_type == span_type)
        buckets: dict[tuple[datetime, str | None], _Bucket] = {}
        origin = since.astimezone(UTC)
        for start, key, status, tokens_in, tokens_out, cost, duration in uow.connection().execute(
            spans.execution_options(yield_per=5000)
        ):
            index = int((start - origin) / step)
            group = names.get(int(key)) if group_by == "project" and key is not None else key
            group = None if group is None else str(group)
            bucket = buckets.setdefault((origin + index * step, group), _Bucket())
            bucket.calls += 1
            bucket.errors += status == "error"
            bucket.input_tokens += tokens_in or 0
            bucket.output_tokens += tokens_out or 0
            bucket.cost_usd += cost or 0.0
            bucket.durations.append(duration)
    points = [
        MetricPoint(
            bucket=moment,
            group=group,
            calls=b.calls,
            errors=b.errors,
            input_tokens=b.input_tokens,
            output_tokens=b.output_tokens,
            cost_usd=b.cost_usd,
            latency_p50_ms=percentile(b.durations, 0.50),
            latency_p95_ms=percentile(b.durations, 0.95),
        )
        for (moment, group), b in sorted(
            buckets.items(), key=lambda item: (item[0][0], item[0][1] or "")
        )
    ]
    return TraceMetrics(
        group_by=group_by,
        interval=interval,
        span_type=span_type,
        since=since,
        until=until,
        points=points,
    )


def percentile(values: Iterable[float], fraction: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
