"""Signing in and out of the console, and accepting an invitation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corral.core import logins
from corral.errors import CorralError
from corral.server.api.auth import client_address, set_session_cookie
from corral.server.console.rendering import read_form, redirect, render, viewer_of
from corral.server.deps import get_runtime

router = APIRouter()


def _safe_next(value: str | None) -> str:
    """Only local console paths: a login link must not bounce the user to another site."""
    if value and value.startswith("/console/") and not value.startswith("//"):
        return value
    return "/console/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", None, next_path=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await read_form(request)
    rt = get_runtime(request)
    target = _safe_next(form.get("next"))
    try:
        session = logins.login(
            rt, form.get("email", ""), form.get("password", ""), address=client_address(request)
        )
    except CorralError as exc:
        return render(
            request,
            "login.html",
            None,
            status=exc.status,
            error=exc.message,
            email=form.get("email"),
            next_path=target,
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(rt, request, response, session.cookie)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    viewer_of(request)  # checks the CSRF token: a cross-site form cannot sign anyone out
    cookie = request.cookies.get(logins.SESSION_COOKIE)
    if cookie:
        logins.logout(get_runtime(request), cookie)
    response = redirect("/console/login", "You are signed out.")
    response.delete_cookie(logins.SESSION_COOKIE, path="/")
    return response


@router.get("/invite", response_class=HTMLResponse)
def invite_page(request: Request, token: str = "") -> Response:
    return render(request, "invite.html", None, token=token)


@router.post("/invite", response_class=HTMLResponse)
async def accept_invite(request: Request) -> Response:
    form = await read_form(request)
    rt = get_runtime(request)
    token = form.get("token", "")
    try:
        user = logins.accept_invite(rt, token, form.get("password", ""))
        session = logins.login(
            rt, user.email, form.get("password", ""), address=client_address(request)
        )
    except CorralError as exc:
        return render(
            request, "invite.html", None, status=exc.status, error=exc.message, token=token
        )
    response = RedirectResponse("/console/", status_code=303)
    set_session_cookie(rt, request, response, session.cookie)
    return response
