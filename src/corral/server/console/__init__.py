"""The web console: server-rendered pages over the same services as the API, at ``/console``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from corral.errors import CorralError
from corral.server.console import (
    agent_pages,
    audit_pages,
    cost_pages,
    finding_pages,
    memory_item_pages,
    memory_pages,
    overview_pages,
    session_pages,
    settings_pages,
    trace_pages,
)
from corral.server.console.rendering import HERE, LoginRequired, error_page


def console_error(request: Request, error: CorralError) -> Response | None:
    """Errors on console pages are pages, not JSON."""
    if not request.url.path.startswith("/console/"):
        return None
    if error.code == "route_not_found":
        error = CorralError("This page does not exist.", code="page_not_found", status=404)
    return error_page(request, None, error)


def install_console(app: FastAPI) -> None:
    router = APIRouter(prefix="/console", include_in_schema=False)
    for module in (
        session_pages,
        overview_pages,
        trace_pages,
        cost_pages,
        finding_pages,
        memory_pages,
        memory_item_pages,
        agent_pages,
        audit_pages,
        settings_pages,
    ):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def to_login(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/console/login?next={exc.next_path}", status_code=303)

    app.add_exception_handler(LoginRequired, to_login)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/console/", status_code=307)
