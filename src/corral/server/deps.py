"""FastAPI dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from corral.core.access import Principal
from corral.core.keys import authenticate
from corral.core.runtime import Runtime
from corral.errors import Unauthenticated


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


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
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = credentials_from(request)
    if token is None:
        raise Unauthenticated(
            "this endpoint needs an API key: send 'Authorization: Bearer crl_…'.",
            code="missing_credentials",
        )
    principal = authenticate(get_runtime(request), token)
    request.state.principal = principal
    return principal


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Actor = Annotated[Principal, Depends(current_principal)]
