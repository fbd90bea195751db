"""The audit trail: filtered events and the chain's verification."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from corral.core import audit_trail
from corral.core.audit_trail import AuditFilter
from corral.errors import CorralError
from corral.server.console.rendering import error_page, read_form, render, viewer_of
from corral.server.deps import get_runtime

router = APIRouter()


def _filters(request: Request) -> tuple[AuditFilter, dict[str, str]]:
    raw = {k: v.strip() for k, v in request.query_params.items() if v.strip() and k != "cursor"}
    since = raw.get("since")
    try:
        moment = datetime.fromisoformat(since) if since else None
    except ValueError:
        moment = None
    return (
        AuditFilter(
            action=raw.get("action"),
            actor=raw.get("actor"),
            project=raw.get("project"),
            outcome=raw.get("outcome"),
            since=moment,
        ),
        raw,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, cursor: str | None = None) -> Response:
    viewer = viewer_of(request)
    rt = get_runtime(request)
    filters, raw = _filters(request)
    try:
        page = audit_trail.list_events(rt, viewer.principal, filters, limit=50, cursor=cursor)
    except CorralError as exc:
        return error_page(request, viewer, exc)
    checkpoints = (
        audit_trail.list_checkpoints(rt, viewer.principal, limit=1) if viewer.is_admin else []
    )
    next_url = (
        f"/console/audit?{urlencode({**raw, 'cursor': page.next_cursor})}"
        if page.next_cursor
        else None
    )
    return render(
        request,
        "audit.html",
        viewer,
        events=page.data,
        filters=raw,
        next_url=next_url,
        checkpoint=checkpoints[0] if checkpoints else None,
        verification=None,
    )


@router.post("/audit/verify", response_class=HTMLResponse)
async def verify(request: Request) -> Response:
    await read_form(request)
    viewer = viewer_of(request)
    rt = get_runtime(request)
    try:
        result = audit_trail.verify_trail(rt, viewer.principal)
        page = audit_trail.list_events(rt, viewer.principal, AuditFilter(), limit=50)
    except CorralError as exc:
        return error_page(request, viewer, exc)
    checkpoints = audit_trail.list_checkpoints(rt, viewer.principal, limit=1)
    return render(
        request,
        "audit.html",
        viewer,
        events=page.data,
        filters={},
        next_url=None,
        checkpoint=checkpoints[0] if checkpoints else None,
        verification=result,
    )
