"""Who spent what: model-call spend grouped by project, agent, user, model, provider, day or
session, from the daily rollups (and the session rollups for sessions), so reports stay fast at
millions of calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from corral.core.access import Principal, resolve_project
from corral.core.runtime import Runtime
from corral.db.schema import CostDailyRow, ProjectRow, SessionRow
from corral.errors import InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.costs import CostDimension, CostReport, CostRow

MAX_ROWS = 5000
_COLUMNS = {
    "project": ProjectRow.name,
    "agent": CostDailyRow.agent,
    "user": CostDailyRow.user_id,
    "model": CostDailyRow.model,
    "provider": CostDailyRow.provider,
    "day": CostDailyRow.day,
}


def _readable_projects(
    rt: Runtime, actor: Principal, names: Sequence[str] | None
) -> dict[int, str]:
    with rt.db.read() as uow:
        if names:
            return {
                row.id: row.name
                for row in (resolve_project(uow, actor, n, Permission.COSTS_READ) for n in names)
            }
        query = select(ProjectRow.id, ProjectRow.name)
        scope = actor.project_scope()
        if scope is not None:
            query = query.where(ProjectRow.id.in_(scope))
        return {
            pid: name for pid, name in uow.execute(query) if actor.may(Permission.COSTS_READ, pid)
        }


def cost_report(
    rt: Runtime,
    actor: Principal,
    *,
    group_by: Sequence[CostDimension] = ("agent",),
    projects: Sequence[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 200,
) -> CostReport:
    """Spend between ``since`` and ``until`` (UTC days, inclusive; default the last 30 days)."""
    dimensions = list(dict.fromkeys(group_by)) or ["project"]
    until = until or rt.clock.now().date()
    since = since or until - timedelta(days=29)
    if since > until:
        raise InvalidRequest("since must not be after until.", code="invalid_time_range")
    if "session" in dimensions and set(dimensions) - {"session", "project", "agent", "user"}:
        raise InvalidRequest(
            "sessions can be grouped with project, agent and user only (a session's spend is "
            "kept per session, not per model or day).",
            code="invalid_group_by",
        )
    readable = _readable_projects(rt, actor, projects)
    if not readable:
        return CostReport(
            group_by=dimensions, since=since, until=until, rows=[], total_usd=0.0, total_calls=0
        )
    limit = max(1, min(limit, MAX_ROWS))
    rows = (
        _by_session(rt, readable, dimensions, since, until, limit)
        if "session" in dimensions
        else _by_day(rt, readable, dimensions, since, until, limit)
    )
    with rt.db.read() as uow:
        totals = uow.execute(
            select(
                func.coalesce(func.sum(CostDailyRow.cost_usd), 0.0),
                func.coalesce(func.sum(CostDailyRow.calls), 0),
            ).where(
                CostDailyRow.project_id.in_(readable),
                CostDailyRow.day >= since,
                CostDailyRow.day <= until,
            )
        ).one()
    return CostReport(
        group_by=dimensions,
        since=since,
        until=until,
        rows=rows,
        total_usd=float(totals[0]),
        total_calls=int(totals[1]),
    )


def _by_day(
    rt: Runtime,
    readable: dict[int, str],
    dimensions: Sequence[str],
    since: date,
    until: date,
    limit: int,
) -> list[CostRow]:
    keys = [_COLUMNS[d].label(d) for d in dimensions]
    sums = [
        func.sum(getattr(CostDailyRow, c)).label(c)
        for c in (
            "calls",
            "errors",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "cost_usd",
        )
    ]
    query = (
        select(*keys, *sums)
        .join(ProjectRow, ProjectRow.id == CostDailyRow.project_id)
        .where(
            CostDailyRow.project_id.in_(readable),
            CostDailyRow.day >= since,
            CostDailyRow.day <= until,
        )
        .group_by(*keys)
        .order_by(func.sum(CostDailyRow.cost_usd).desc())
        .limit(limit)
    )
    with rt.db.read() as uow:
        result = uow.execute(query).mappings().all()
    return [_row(dict(r), dimensions) for r in result]


def _by_session(
    rt: Runtime,
    readable: dict[int, str],
    dimensions: Sequence[str],
    since: date,
    until: date,
    limit: int,
) -> list[CostRow]:
    columns = {
        "project": ProjectRow.name,
        "agent": SessionRow.agent_name,
        "user": SessionRow.user_id,
        "session": SessionRow.session_id,
    }
    keys = [columns[d].label(d) for d in dimensions]
    query = (
        select(
            *keys,
            func.sum(SessionRow.llm_calls).label("calls"),
            func.sum(SessionRow.error_count).label("errors"),
            func.sum(SessionRow.input_tokens).label("input_tokens"),
            func.sum(SessionRow.output_tokens).label("output_tokens"),
            func.sum(SessionRow.cost_usd).label("cost_usd"),
        )
        .join(ProjectRow, ProjectRow.id == SessionRow.project_id)
        .where(
            SessionRow.project_id.in_(readable),
            SessionRow.last_seen >= _midnight(since),
            SessionRow.first_seen < _midnight(until + timedelta(days=1)),
        )
        .group_by(*keys)
        .order_by(func.sum(SessionRow.cost_usd).desc())
        .limit(limit)
    )
    with rt.db.read() as uow:
        result = uow.execute(query).mappings().all()
    return [_row(dict(r), dimensions) for r in result]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _row(values: dict[str, Any], dimensions: Sequence[str]) -> CostRow:
    keys = {d: (values[d] if values[d] != "" else None) for d in dimensions}
    day = keys.get("day")
    if isinstance(day, str):
        keys["day"] = date.fromisoformat(day)
    counters = {
        k: int(values.get(k) or 0)
        for k in (
            "calls",
            "errors",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        )
    }
    return CostRow(**keys, **counters, cost_usd=float(values.get("cost_usd") or 0.0))
