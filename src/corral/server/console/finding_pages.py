"""Findings and alerts: lists with filters, a finding with its evidence spans, acknowledge /
resolve / reopen, resuming a halted session, alert rules and webhook deliveries.

Every write goes through the same service function as the REST API, which checks the role; the
pages only hide the buttons a viewer could not use.
"""

from __future__ import annotations

from typing import Any, get_args
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from corral.core import alerts
from corral.core.detection import breaker, findings
from corral.errors import CorralError, Forbidden, InvalidRequest
from corral.schemas.detection import FindingAction, FindingType, SessionResume, Severity
from corral.server.console.formatting import (
    RANGE_LABELS,
    choose_project,
    narrowed,
    pager,
    query_params,
    time_window,
)
from corral.server.console.rendering import error_page, read_form, redirect, render, viewer_of
from corral.server.deps import get_runtime

router = APIRouter()

FILTERS = (
    "project",
    "type",
    "severity",
    "status",
    "agent",
    "session",
    "range",
    "since",
    "until",
    "tz",
)
STATUSES = ("open", "acknowledged", "resolved")
PAGE_SIZE = 50


def _choice(value: str | None, allowed: tuple[str, ...]) -> Any:
    return value if value in allowed else None


@router.get("/findings", response_class=HTMLResponse)
def finding_list(request: Request) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    params = query_params(request, *FILTERS)
    choice = choose_project(rt, viewer, params.get("project"))
    since, until = time_window(params, rt.clock.now())
    page, halts = None, []
    if choice.name is not None:
        try:
            page = findings.list_findings(
                rt,
                viewer.principal,
                choice.name,
                type=_choice(params.get("type"), get_args(FindingType)),
                severity=_choice(params.get("severity"), get_args(Severity)),
                status=_choice(params.get("status"), STATUSES),
                agent=params.get("agent"),
                session=params.get("session"),
                since=since,
                until=until,
                limit=PAGE_SIZE,
                cursor=request.query_params.get("cursor"),
            )
            halts = breaker.list_halts(rt, viewer.principal, choice.name, limit=50)
        except CorralError as exc:
            return error_page(request, viewer, exc)
    current = choice.current
    return render(
        request,
        "findings.html",
        viewer,
        choice=choice,
        filters=params,
        filtered=narrowed(params),
        ranges=RANGE_LABELS,
        types=get_args(FindingType),
        severities=get_args(Severity),
        statuses=STATUSES,
        findings=page.data if page else [],
        halts=halts,
        may_write=current is not None and viewer.can("traces:write", current.id),
        **pager(request, "/console/findings", params, page.next_cursor if page else None),
    )


@router.get("/findings/alerts", response_class=HTMLResponse)
def alert_list(request: Request) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    status = _choice(request.query_params.get("status"), STATUSES)
    actor = viewer.principal
    try:
        deliveries = alerts.list_deliveries(rt, actor, limit=50)
    except Forbidden:
        deliveries = None
    return render(
        request,
        "alerts.html",
        viewer,
        chosen=status,
        statuses=STATUSES,
        alerts=alerts.list_alerts(rt, actor, status=status, limit=100),
        rules=alerts.list_rules(rt, actor),
        deliveries=deliveries,
        writable={
            p.name
            for p in choose_project(rt, viewer, None).projects
            if viewer.can("traces:write", p.id)
        },
    )


@router.post("/findings/alerts/{alert_id}/status", response_class=HTMLResponse)
async def set_alert_status(request: Request, alert_id: int) -> Response:
    form = await read_form(request)
    viewer = viewer_of(request)
    status = form.get("status", "")
    try:
        if status not in ("acknowledged", "resolved"):
            raise InvalidRequest("choose acknowledged or resolved.", code="invalid_status")
        alert = alerts.set_alert_status(get_runtime(request), viewer.principal, alert_id, status)
    except CorralError as exc:
        return error_page(request, viewer, exc)
    return redirect("/console/findings/alerts", f"Alert {alert.id} {alert.status}.")


@router.get("/findings/{project}/{finding_id}", response_class=HTMLResponse)
def finding_page(request: Request, project: str, finding_id: int) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    try:
        finding = findings.get_finding(rt, viewer.principal, project, finding_id)
        halts = (
            breaker.list_halts(rt, viewer.principal, project, session_id=finding.session_id)
            if finding.session_id
            else []
        )
    except CorralError as exc:
        return error_page(request, viewer, exc)
    current = choose_project(rt, viewer, project).current
    return render(
        request,
        "finding.html",
        viewer,
        project=project,
        finding=finding,
        halt=halts[0] if halts else None,
        may_write=current is not None and viewer.can("traces:write", current.id),
    )


@router.post("/findings/{project}/{finding_id}", response_class=HTMLResponse)
async def set_finding_status(request: Request, project: str, finding_id: int) -> Response:
    form = await read_form(request)
    viewer = viewer_of(request)
    try:
        action = FindingAction.model_validate(
            {"status": form.get("status"), "note": form.get("note") or None}
        )
        finding = findings.set_finding_status(
            get_runtime(request), viewer.principal, project, finding_id, action
        )
    except ValueError:
        return error_page(
            request,
            viewer,
            InvalidRequest("choose acknowledged, resolved or open.", code="invalid_status"),
        )
    except CorralError as exc:
        return error_page(request, viewer, exc)
    verb = {"acknowledged": "acknowledged", "resolved": "resolved", "open": "reopened"}
    return redirect(
        f"/console/findings/{quote(project, safe='')}/{finding.id}",
        f"Finding {verb[finding.status]}.",
    )


@router.post("/sessions/{project}/{session_id}/resume", response_class=HTMLResponse)
async def resume_session(request: Request, project: str, session_id: str) -> Response:
    form = await read_form(request)
    viewer = viewer_of(request)
    try:
        body = SessionResume.model_validate({"note": form.get("note") or None})
        breaker.resume_session(get_runtime(request), viewer.principal, project, session_id, body)
    except ValueError:
        return error_page(
            request, viewer, InvalidRequest("the note is too long.", code="invalid_note")
        )
    except CorralError as exc:
        return error_page(request, viewer, exc)
    back = form.get("back") or (
        f"/console/sessions/{quote(project, safe='')}/{quote(session_id, safe='')}"
    )
    if not back.startswith("/console/") or back.startswith("//"):
        back = "/console/findings"
    return redirect(back, f"Session {session_id} resumed.")
