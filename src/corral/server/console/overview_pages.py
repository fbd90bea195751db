"""The overview: every agent's status, spend against budgets, open problems, recent activity."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from corral.core.console_overview import overview
from corral.server.console.rendering import render, viewer_of
from corral.server.deps import get_runtime

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> Response:
    viewer = viewer_of(request)
    data = overview(get_runtime(request), viewer.principal)
    return render(request, "overview.html", viewer, data=data)
