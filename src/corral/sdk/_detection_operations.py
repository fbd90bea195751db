"""The calls of the detection API (findings, detector settings, halts), written once for both
clients."""

from __future__ import annotations

from typing import Any

from corral.schemas.common import Page
from corral.schemas.detection import (
    DetectorSettingsView,
    Finding,
    FindingDetail,
    SessionClearance,
    SessionHalt,
)
from corral.sdk._calls import Call, body_of, parser, segment
from corral.sdk._traces_operations import Moment, _project, _when


def list_findings(
    project: str,
    *,
    type: str | None = None,
    severity: str | None = None,
    agent: str | None = None,
    session: str | None = None,
    status: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[Page[Finding]]:
    params = body_of(
        type=type,
        severity=severity,
        agent=agent,
        session=session,
        status=status,
        since=_when(since),
        until=_when(until),
        limit=limit,
        cursor=cursor,
    )
    return Call("GET", f"{_project(project)}/findings", parser(Page[Finding]), params=params)


def get_finding(project: str, finding_id: int) -> Call[FindingDetail]:
    path = f"{_project(project)}/findings/{segment(finding_id)}"
    return Call("GET", path, parser(FindingDetail))


def set_finding_status(
    project: str, finding_id: int, status: str, note: str | None
) -> Call[Finding]:
    path = f"{_project(project)}/findings/{segment(finding_id)}"
    return Call("POST", path, parser(Finding), json=body_of(status=status, note=note))


def get_settings(project: str, agent: str | None) -> Call[DetectorSettingsView]:
    path = f"{_project(project)}/detector-settings"
    return Call("GET", path, parser(DetectorSettingsView), params=body_of(agent=agent))


def update_settings(
    project: str, agent: str | None, values: dict[str, Any], unset: list[str]
) -> Call[DetectorSettingsView]:
    path = f"{_project(project)}/detector-settings"
    return Call(
        "PATCH",
        path,
        parser(DetectorSettingsView),
        json={"set": values, "unset": unset},
        params=body_of(agent=agent),
    )


def check_session(project: str, session_id: str) -> Call[SessionClearance]:
    path = f"{_project(project)}/sessions/{segment(session_id)}/breaker"
    return Call("GET", path, parser(SessionClearance))


def resume_session(project: str, session_id: str, note: str | None) -> Call[SessionHalt]:
    path = f"{_project(project)}/sessions/{segment(session_id)}/resume"
    return Call("POST", path, parser(SessionHalt), json=body_of(note=note))


def list_halts(
    project: str, *, session: str | None = None, resumed: bool = False
) -> Call[list[SessionHalt]]:
    params = body_of(session=session, resumed="true" if resumed else None)
    return Call("GET", f"{_project(project)}/halts", parser(list[SessionHalt]), params=params)
