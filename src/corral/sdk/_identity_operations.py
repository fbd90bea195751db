"""Calls for tool policies, authorization decisions, the audit trail and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from corral.schemas.audit import AuditCheckpoint, AuditEvent, AuditVerification
from corral.schemas.auth import InviteCreated
from corral.schemas.common import Page
from corral.schemas.policies import AuthorizeDecision, ToolPolicy, ToolRule
from corral.sdk._calls import Call, body_of, parser, segment

_policy = parser(ToolPolicy)


def get_policy(agent: str) -> Call[ToolPolicy | None]:
    return Call("GET", f"/v1/agents/{segment(agent)}/policy", parser(ToolPolicy | None))


def save_policy(
    agent: str, rules: list[ToolRule] | None, cedar: str | None, note: str
) -> Call[ToolPolicy]:
    body: dict[str, Any] = {"note": note}
    if rules is not None:
        body["rules"] = [r.model_dump(mode="json") for r in rules]
    if cedar is not None:
        body["cedar"] = cedar
    return Call("PUT", f"/v1/agents/{segment(agent)}/policy", _policy, json=body)


def clear_policy(agent: str) -> Call[ToolPolicy]:
    return Call("DELETE", f"/v1/agents/{segment(agent)}/policy", _policy)


def policy_versions(agent: str) -> Call[list[ToolPolicy]]:
    return Call("GET", f"/v1/agents/{segment(agent)}/policy/versions", parser(list[ToolPolicy]))


def restore_policy(agent: str, version: int) -> Call[ToolPolicy]:
    path = f"/v1/agents/{segment(agent)}/policy/versions/{segment(version)}/restore"
    return Call("POST", path, _policy)


def authorize(
    project: str, tool: str, args: dict[str, Any], agent: str | None
) -> Call[AuthorizeDecision]:
    body = body_of(project=project, tool=tool, args=args, agent=agent)
    return Call("POST", "/v1/authorize", parser(AuthorizeDecision), json=body)


def audit_params(
    action: str | None,
    actor: str | None,
    project: str | None,
    outcome: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    return body_of(
        action=action,
        actor=actor,
        project=project,
        outcome=outcome,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
    )


def audit_page(params: dict[str, Any], cursor: str | None, limit: int) -> Call[Page[AuditEvent]]:
    query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
    return Call("GET", "/v1/audit", parser(Page[AuditEvent]), params=query)


def audit_export(params: dict[str, Any]) -> Call[AuditEvent]:
    return Call("GET", "/v1/audit/export", parser(AuditEvent), params=params)


def audit_verify() -> Call[AuditVerification]:
    return Call("GET", "/v1/audit/verify", parser(AuditVerification))


def audit_checkpoints() -> Call[list[AuditCheckpoint]]:
    return Call("GET", "/v1/audit/checkpoints", parser(list[AuditCheckpoint]))


def invite_user(user_id: int, valid_hours: float) -> Call[InviteCreated]:
    path = f"/v1/users/{segment(user_id)}/invite"
    return Call("POST", path, parser(InviteCreated), json={"valid_hours": valid_hours})
