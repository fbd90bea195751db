"""Console sign-in over the API: the same sessions the console pages use."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from corral.core import logins
from corral.core.runtime import Runtime
from corral.errors import Unauthenticated
from corral.schemas.auth import InviteAccept, LoginRequest, PasswordChange, SessionInfo
from corral.server.deps import Actor, RuntimeDep

public_router = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(prefix="/auth", tags=["auth"])


def set_session_cookie(rt: Runtime, request: Request, response: Response, cookie: str) -> None:
    """The session cookie: HttpOnly (no script can read it), SameSite=Lax (not sent on
    cross-site posts), Secure over HTTPS."""
    setting = rt.settings.cookie_secure
    secure = setting == "always" or (setting == "auto" and request.url.scheme == "https")
    response.set_cookie(
        logins.SESSION_COOKIE,
        cookie,
        max_age=int(rt.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@public_router.post("/login", summary="Sign in with email and password; sets the session cookie")
def login(rt: RuntimeDep, request: Request, response: Response, body: LoginRequest) -> SessionInfo:
    session = logins.login(rt, body.email, body.password, address=client_address(request))
    set_session_cookie(rt, request, response, session.cookie)
    return session.info


@public_router.post("/logout", status_code=204, summary="End the session of the cookie")
def logout(rt: RuntimeDep, request: Request) -> Response:
    cookie = request.cookies.get(logins.SESSION_COOKIE)
    if cookie:
        logins.logout(rt, cookie)
    response = Response(status_code=204)
    response.delete_cookie(logins.SESSION_COOKIE, path="/")
    return response


@public_router.post("/accept-invite", summary="Set a password with an invitation token")
def accept_invite(
    rt: RuntimeDep, request: Request, response: Response, body: InviteAccept
) -> SessionInfo:
    user = logins.accept_invite(rt, body.token, body.password)
    session = logins.login(rt, user.email, body.password, address=client_address(request))
    set_session_cookie(rt, request, response, session.cookie)
    return session.info


@router.get("/session", summary="The session of the cookie, with its CSRF token")
def current_session(request: Request, actor: Actor) -> SessionInfo:
    info: SessionInfo | None = getattr(request.state, "login_session", None)
    if info is None:
        raise Unauthenticated(
            "this request was made with an API key, not a console session.", code="no_session"
        )
    return info


@router.post("/password", status_code=204, summary="Change your own password")
def change_password(rt: RuntimeDep, actor: Actor, body: PasswordChange) -> Response:
    logins.change_password(rt, actor, body.current_password, body.new_password)
    return Response(status_code=204)
