"""Formatting and request helpers shared by the trace, cost and finding pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict
from urllib.parse import urlencode

from fastapi import Request

from corral.core.projects import list_projects
from corral.core.runtime import Runtime
from corral.schemas.tenancy import Project
from corral.server.console.rendering import Viewer, environment

RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
RANGE_LABELS = {
    "": "any time",
    "1h": "last hour",
    "24h": "last 24 hours",
    "7d": "last 7 days",
    "30d": "last 30 days",
    "custom": "between…",
}


def duration(ms: float | None) -> str:
    """850 ms, 1.24 s, 3m 05s: precise where it matters, short where it does not."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:,.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if value < 0.1 else f"{100 * value:.0f}%"


environment.filters.update(duration=duration, percent=percent)


@dataclass
class ProjectChoice:
    """The projects a page can show and the one it shows."""

    projects: list[Project]
    name: str | None

    @property
    def current(self) -> Project | None:
        return next((p for p in self.projects if p.name == self.name), None)


def choose_project(rt: Runtime, viewer: Viewer, requested: str | None) -> ProjectChoice:
    """The requested project, else the one most recently active. A name the viewer cannot
    reach is passed on as is: the service answers it with the same error as the API."""
    projects = list_projects(rt, viewer.principal, limit=200).data
    if requested:
        return ProjectChoice(projects, requested)
    return ProjectChoice(projects, projects[0].name if projects else None)


def query_params(request: Request, *names: str) -> dict[str, str]:
    """The non-empty query parameters among ``names``, stripped."""
    return {
        name: value.strip()
        for name in names
        if (value := request.query_params.get(name)) is not None and value.strip()
    }


def narrowed(params: dict[str, str]) -> bool:
    """Whether a list is filtered beyond its project (an empty list then means "no match")."""
    return any(k not in ("project", "tz") for k in params)


def page_url(path: str, params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return f"{path}?{urlencode(merged)}" if merged else path


class PagerLinks(TypedDict):
    next_url: str | None
    first_url: str | None


def pager(
    request: Request, path: str, params: dict[str, Any], next_cursor: str | None
) -> PagerLinks:
    """Links of a cursor-paged list: the next page, and back to the first once past it."""
    return {
        "next_url": page_url(path, params, cursor=next_cursor) if next_cursor else None,
        "first_url": page_url(path, params) if request.query_params.get("cursor") else None,
    }


def time_window(params: dict[str, str], now: datetime) -> tuple[datetime | None, datetime | None]:
    """The time range chosen in a filter form: a named range, or ``since``/``until`` typed in
    the viewer's local time (``tz`` is their UTC offset in minutes, set by the page's script)."""
    chosen = params.get("range", "")
    if chosen in RANGES:
        return now - RANGES[chosen], None
    if chosen != "custom":
        return None, None
    try:
        offset = timedelta(minutes=int(params.get("tz", "0")))
    except ValueError:
        offset = timedelta()
    return _local(params.get("since"), offset), _local(params.get("until"), offset)


def _local(value: str | None, offset: timedelta) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = (moment - offset).replace(tzinfo=UTC)
    return moment
