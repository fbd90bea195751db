"""Costs: spend over time and by agent, project, user and model; budgets and their use."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from corral.core import budgets, costs
from corral.core.console_overview import budget_statuses
from corral.errors import CorralError
from corral.schemas.costs import CostDimension
from corral.server.console.formatting import choose_project, query_params
from corral.server.console.rendering import _usd, error_page, render, viewer_of
from corral.server.console.svg import bar_chart
from corral.server.deps import get_runtime

router = APIRouter()

PERIODS = {"7": "last 7 days", "30": "last 30 days", "90": "last 90 days"}
BREAKDOWNS: tuple[CostDimension, ...] = ("agent", "project", "user", "model")
BREAKDOWN_ROWS = 15


@router.get("/costs", response_class=HTMLResponse)
def cost_page(request: Request) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    actor = viewer.principal
    params = query_params(request, "project", "days")
    days = params.get("days", "30") if params.get("days") in PERIODS else "30"
    project = params.get("project")
    choice = choose_project(rt, viewer, None)
    until = rt.clock.now().date()
    since = until - timedelta(days=int(days) - 1)
    scope = [project] if project else None
    try:
        daily = costs.cost_report(
            rt, actor, group_by=["day"], projects=scope, since=since, until=until, limit=400
        )
        breakdowns = {
            dimension: costs.cost_report(
                rt,
                actor,
                group_by=[dimension],
                projects=scope,
                since=since,
                until=until,
                limit=BREAKDOWN_ROWS,
            )
            for dimension in BREAKDOWNS
        }
        budget_list = budgets.list_budgets(rt, actor, project=project)
    except CorralError as exc:
        return error_page(request, viewer, exc)
    by_day = {row.day: row.cost_usd for row in daily.rows}
    days_shown = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    chart = bar_chart(
        [(_label(d), by_day.get(d, 0.0)) for d in days_shown],
        label=f"Spend per day (UTC), {PERIODS[days]}",
        fmt=_usd,
    )
    return render(
        request,
        "costs.html",
        viewer,
        choice=choice,
        project=project,
        days=days,
        periods=PERIODS,
        since=since,
        until=until,
        total=daily.total_usd,
        calls=daily.total_calls,
        today=by_day.get(until, 0.0),
        chart=chart,
        has_spend=any(by_day.values()),
        breakdowns=breakdowns,
        budgets=budget_statuses(rt, actor, budget_list),
    )


def _label(day: date) -> str:
    return day.strftime("%b %d")
