"""FastAPI dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

import contextlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from corral.core.access import Principal
from corral.core.background import START_DELAY_SECONDS, start_in_thread
from corral.core.keys import authenticate, remembered_principal
from corral.core.logins import CSRF_HEADER, SESSION_COOKIE, session_principal
from corral.core.runtime import Runtime
from corral.errors import CorralError, Forbidden, InvalidRequest, Unauthenticated
from corral.schemas.common import NUL_RULE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def runtime_dependency(request: Request) -> Runtime:
    """:func:`get_runtime` as a dependency: ``async`` so that FastAPI runs it on the event loop
    instead of handing it to a worker thread."""
    return get_runtime(request)


async def refuse_nul_in_url(request: Request) -> None:
    """Every route's first check: a path or query parameter holding NUL is refused (bodies are
    checked by their models), so no filter ever hands one to the database."""
    # The scope's decoded path, not request.url: building the URL costs more than the check.
    if "\x00" in request.scope["path"] or (
        request.scope["query_string"]
        and any(
            "\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()
        )
    ):
        raise InvalidRequest(f"the URL is invalid: {NUL_RULE}.", code="invalid_text")


def credentials_from(request: Request) -> str | None:
    """The API key of a request: ``Authorization: Bearer …`` (OpenAI clients) or
    ``X-API-Key`` (Anthropic clients)."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key else None


def current_principal(request: Request) -> Principal:
    """The caller, from an API key or else the console session cookie.

    Requests authenticated by the cookie and changing state must carry the session's CSRF token
    (header ``X-CSRF-Token``; console forms put it in ``request.state.form_csrf``): a browser
    sends the cookie to any site's requests, but only Corral's own pages know the token.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    rt = get_runtime(request)
    token = credentials_from(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if token is not None:
        principal = authenticate(rt, token)
    elif cookie:
        principal, session = session_principal(rt, cookie)
        request.state.login_session = session
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER) or getattr(request.state, "form_csrf", None)
            if not sent or not hmac.compare_digest(sent, session.csrf_token):
                raise Forbidden(
                    "missing or wrong CSRF token: reload the page and try again.",
                    code="csrf_failed",
                )
    else:
        raise Unauthenticated(
            "this endpoint needs an API key: send 'Authorization: Bearer crl_…'.",
            code="missing_credentials",
        )
    request.state.principal = principal
    return principal


async def authenticated(request: Request) -> Principal:
    """:func:`current_principal` as a dependency: a key whose principal is remembered is
    answered on the event loop (and read again in a worker thread once past half its time, so
    that a key in steady use is never found expired); anything that reads the database on the
    request's path goes to a worker thread."""
    token = credentials_from(request)
    if token is not None and getattr(request.state, "principal", None) is None:
        rt = get_runtime(request)
        remembered, due = remembered_principal(rt, token)
        if remembered is not None:
            request.state.principal = remembered
            if due:
                _read_key_again(rt, token)
            return remembered
    return await run_in_threadpool(current_principal, request)


def _read_key_again(rt: Runtime, token: str) -> None:
    def read() -> None:
        # Revoked or expired meanwhile: forgotten, so the next call reads it and is told.
        with contextlib.suppress(CorralError):
            authenticate(rt, token, remembered=False)

    start_in_thread(read, key=("key", token), delay=START_DELAY_SECONDS)


RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
Actor = Annotated[Principal, Depends(authenticated)]
