"""REST routers under ``/v1``. Every one of them is behind authentication."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from corral.schemas.common import ErrorResponse
from corral.server import gateway
from corral.server.api import (
    agents,
    alerts,
    audit,
    auth,
    budgets,
    costs,
    detection,
    keys,
    lifecycle,
    memory,
    otlp,
    policies,
    projects,
    providers,
    status,
    traces,
    users,
)
from corral.server.deps import authenticated

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status_code: {"model": ErrorResponse, "description": description}
    for status_code, description in {
        401: "No valid API key",
        403: "The key does not reach this project or lacks the permission",
        404: "Not found",
        422: "Invalid request",
    }.items()
}


def build_v1_router() -> APIRouter:
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authenticated)], responses=ERROR_RESPONSES)
    for module in (
        gateway,  # first: agents' calls are matched against every route before it
        status,
        auth,
        projects,
        users,
        agents,
        keys,
        policies,
        lifecycle,
        audit,
        budgets,
        costs,
        providers,
        alerts,
        otlp,
        traces,
        detection,
    ):
        v1.include_router(module.router)
    v1.include_router(memory.router)
    v1.include_router(memory.workspace_router)
    return v1


def build_public_router() -> APIRouter:
    """The few /v1 routes that come before authentication (signing in)."""
    public = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
    public.include_router(auth.public_router)
    return public
