"""Findings, detector settings, and the circuit breaker's halts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from corral.core.detection import breaker, findings, settings_store
from corral.core.pagination import MAX_PAGE_SIZE
from corral.schemas.common import ErrorResponse, Page
from corral.schemas.detection import (
    DetectorSettingsUpdate,
    DetectorSettingsView,
    Finding,
    FindingAction,
    FindingDetail,
    FindingStatus,
    FindingType,
    SessionClearance,
    SessionHalt,
    SessionResume,
    Severity,
)
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(tags=["detection"])

AgentOption = Annotated[
    str | None, Query(description="An agent of the project (default: the project's settings).")
]


@router.get("/projects/{project}/findings", summary="Findings of a project, newest first")
def list_findings(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    type: FindingType | None = None,
    severity: Severity | None = None,
    agent: str | None = None,
    session: str | None = None,
    status: FindingStatus | None = None,
    since: Annotated[datetime | None, Query(description="First detected at or after.")] = None,
    until: Annotated[datetime | None, Query(description="First detected before.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: str | None = None,
) -> Page[Finding]:
    return findings.list_findings(
        rt,
        actor,
        project,
        type=type,
        severity=severity,
        agent=agent,
        session=session,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/projects/{project}/findings/{finding_id}", summary="A finding with its evidence spans"
)
def get_finding(rt: RuntimeDep, actor: Actor, project: str, finding_id: int) -> FindingDetail:
    return findings.get_finding(rt, actor, project, finding_id)


@router.post(
    "/projects/{project}/findings/{finding_id}",
    summary="Acknowledge, resolve or reopen a finding (audited)",
)
def set_finding_status(
    rt: RuntimeDep, actor: Actor, project: str, finding_id: int, body: FindingAction
) -> Finding:
    return findings.set_finding_status(rt, actor, project, finding_id, body)


@router.get(
    "/projects/{project}/detector-settings",
    summary="Detector settings of a project or of one of its agents",
)
def get_detector_settings(
    rt: RuntimeDep, actor: Actor, project: str, agent: AgentOption = None
) -> DetectorSettingsView:
    return settings_store.get_settings(rt, actor, project, agent=agent)


@router.patch(
    "/projects/{project}/detector-settings",
    summary="Set or unset detector settings (project admins; audited)",
)
def update_detector_settings(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    body: DetectorSettingsUpdate,
    agent: AgentOption = None,
) -> DetectorSettingsView:
    return settings_store.update_settings(rt, actor, project, body, agent=agent)


@router.get("/projects/{project}/halts", summary="Sessions halted by the circuit breaker")
def list_halts(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    session: str | None = None,
    resumed: Annotated[bool, Query(description="Resumed halts too, not only active ones.")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> list[SessionHalt]:
    return breaker.list_halts(
        rt, actor, project, session_id=session, active=not resumed, limit=limit
    )


@router.get(
    "/projects/{project}/sessions/{session_id}/breaker",
    summary="May this session go on? 409 session_halted, naming the finding, if it is halted",
    responses={409: {"model": ErrorResponse, "description": "The session is halted"}},
)
def check_session(rt: RuntimeDep, actor: Actor, project: str, session_id: str) -> SessionClearance:
    return breaker.session_clearance(rt, actor, project, session_id)


@router.post(
    "/projects/{project}/sessions/{session_id}/resume",
    summary="Resume a halted session (audited)",
    responses={409: {"model": ErrorResponse, "description": "The session is not halted"}},
)
def resume_session(
    rt: RuntimeDep, actor: Actor, project: str, session_id: str, body: SessionResume
) -> SessionHalt:
    return breaker.resume_session(rt, actor, project, session_id, body)
