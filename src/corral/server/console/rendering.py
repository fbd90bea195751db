"""Templates, the current viewer, flash messages and helpers shared by console pages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from corral import __version__
from corral.core.access import Principal
from corral.core.logins import SESSION_COOKIE, session_principal
from corral.errors import CorralError, Forbidden, Unauthenticated
from corral.schemas.access import Permission
from corral.schemas.auth import SessionInfo
from corral.server.deps import current_principal, get_runtime

HERE = Path(__file__).parent


def _time(value: datetime | None) -> Markup:
    """A timestamp the browser shows in the viewer's own zone (UTC until the script runs)."""
    if value is None:
        return Markup("<span class=muted>—</span>")
    moment = value.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(
        moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M UTC")
    )


def _usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def _number(value: float | int | None) -> str:
    return (
        "—" if value is None else f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    )


def _pretty_json(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, sort_keys=True, default=str)


environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    time=_time,
    usd=_usd,
    number=_number,
    pretty_json=_pretty_json,
    urlquote=lambda v: quote(str(v), safe=""),
)


@dataclass
class Viewer:
    """The person looking at the console, and what they may do."""

    principal: Principal
    session: SessionInfo

    def can(self, permission: str, project_id: int | None = None) -> bool:
        return self.principal.may(Permission(permission), project_id)

    @property
    def is_admin(self) -> bool:
        return self.principal.may(Permission.WORKSPACE_ADMIN)


class LoginRequired(Exception):
    """Raised by pages when nobody is signed in; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def viewer_of(request: Request) -> Viewer:
    """The signed-in viewer (console pages accept only the session cookie, never API keys)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    try:
        if request.method in ("GET", "HEAD"):
            principal, session = session_principal(get_runtime(request), cookie)
        else:
            principal = current_principal(request)  # checks the form's CSRF token too
            session = request.state.login_session
    except Unauthenticated as exc:
        raise LoginRequired(request.url.path) from exc
    return Viewer(principal, session)


async def read_form(request: Request) -> dict[str, str]:
    """The posted form; its CSRF token is handed to the authorization check."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    request.state.form_csrf = values.get("csrf_token")
    return values


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status: int = 200,
    notice: str | None = None,
    **context: Any,
) -> HTMLResponse:
    page = environment.get_template(template).render(
        request=request,
        viewer=viewer,
        version=__version__,
        notice=notice or request.query_params.get("notice"),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status)


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    target = path + (
        ("&" if "?" in path else "?") + urlencode({"notice": notice}) if notice else ""
    )
    return RedirectResponse(target, status_code=303)


def error_page(request: Request, viewer: Viewer | None, error: CorralError) -> HTMLResponse:
    title = "Not allowed" if isinstance(error, Forbidden) else "Something is wrong"
    return render(request, "error.html", viewer, status=error.status, title=title, error=error)
