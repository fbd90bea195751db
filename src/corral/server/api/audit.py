from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from corral.core import audit_trail
from corral.core.audit_trail import AuditFilter
from corral.core.pagination import MAX_PAGE_SIZE
from corral.schemas.audit import AuditCheckpoint, AuditEvent, AuditVerification
from corral.schemas.common import Page
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", summary="Audit events, newest first (workspace admins; project admins: theirs)")
def list_events(
    rt: RuntimeDep,
    actor: Actor,
    action: Annotated[
        str | None, Query(description="Exact action, or a prefix ending in '*' (user.*).")
    ] = None,
    actor_name: Annotated[
        str | None, Query(alias="actor", description="Actor name or API key id.")
    ] = None,
    project: str | None = None,
    outcome: Literal["success", "denied", "failure"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: str | None = None,
) -> Page[AuditEvent]:
    filters = AuditFilter(action, actor_name, project, outcome, since, until)
    return audit_trail.list_events(rt, actor, filters, limit=limit, cursor=cursor)


@router.get(
    "/export",
    summary="Matching events as JSON Lines, oldest first",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export_events(
    rt: RuntimeDep,
    actor: Actor,
    action: str | None = None,
    actor_name: Annotated[str | None, Query(alias="actor")] = None,
    project: str | None = None,
    outcome: Literal["success", "denied", "failure"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    filters = AuditFilter(action, actor_name, project, outcome, since, until)
    events = audit_trail.export_events(rt, actor, filters)
    first = next(events, None)  # fail before streaming starts if access is refused

    def lines() -> Iterator[str]:
        if first is not None:
            yield json.dumps(first.model_dump(mode="json")) + "\n"
        for event in events:
            yield json.dumps(event.model_dump(mode="json")) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/verify", summary="Recompute the hash chain and check signed checkpoints")
def verify(rt: RuntimeDep, actor: Actor) -> AuditVerification:
    return audit_trail.verify_trail(rt, actor)


@router.get("/checkpoints", summary="Signed checkpoints of the chain head, newest first")
def checkpoints(rt: RuntimeDep, actor: Actor) -> list[AuditCheckpoint]:
    return audit_trail.list_checkpoints(rt, actor)
