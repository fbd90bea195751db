"""Agents' tool policies: versions, authoring, and the decision for one tool call.

An agent without a policy may call any tool. Once it has one, Cedar's default deny applies: only
what a ``permit`` allows, minus anything a ``forbid`` matches. Every decision is audited.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.agents import authorize_agent_change, find_agent
from corral.core.audit import record_audit
from corral.core.cedar import compile_rules, evaluate, parse_policy
from corral.core.runtime import Runtime
from corral.db.schema import AgentRow, ProjectMemberRow, ProjectRow, ToolPolicyRow
from corral.errors import Forbidden, InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.policies import (
    AuthorizeDecision,
    AuthorizeRequest,
    PolicySave,
    ToolPolicy,
    ToolRule,
)

_AUDITED_ARGS_BYTES = 4096


def _describe(row: ToolPolicyRow, agent: AgentRow, *, active: bool) -> ToolPolicy:
    return ToolPolicy(
        agent=agent.name,
        version=row.version,
        active=active,
        cedar=row.source,
        rules=None if row.rules is None else [ToolRule.model_validate(r) for r in row.rules],
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def active_policy(uow: Session, agent_id: int) -> ToolPolicyRow | None:
    """The newest policy version of an agent (its ``source`` None means "no policy")."""
    return uow.scalars(
        select(ToolPolicyRow)
        .where(ToolPolicyRow.agent_id == agent_id)
        .order_by(ToolPolicyRow.version.desc())
        .limit(1)
    ).first()


def _append_version(
    uow: Session,
    rt: Runtime,
    actor: Principal,
    agent: AgentRow,
    *,
    source: str | None,
    rules: list[ToolRule] | None,
    note: str,
    action: str,
) -> ToolPolicyRow:
    current = uow.scalar(
        select(func.max(ToolPolicyRow.version)).where(ToolPolicyRow.agent_id == agent.id)
    )
    row = ToolPolicyRow(
        agent_id=agent.id,
        version=(current or 0) + 1,
        source=source,
        rules=None if rules is None else [r.model_dump(mode="json") for r in rules],
        note=note,
        created_by=actor.name,
        created_at=rt.clock.now(),
    )
    uow.add(row)
    uow.flush()
    record_audit(
        uow,
        actor=actor,
        action=action,
        target_kind="agent",
        target_id=agent.name,
        policy_version=str(row.version),
        details={"note": note, "cleared": source is None},
        now=row.created_at,
    )
    return row


def save_policy(rt: Runtime, actor: Principal, agent_name: str, body: PolicySave) -> ToolPolicy:
    """Validate and store a new version; it is in force for the next decision."""
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.POLICIES_WRITE)
        source = compile_rules(agent.name, body.rules) if body.rules is not None else body.cedar
        assert source is not None
        parse_policy(agent.name, source)  # raises invalid_policy with the engine's message
        row = _append_version(
            uow,
            rt,
            actor,
            agent,
            source=source,
            rules=body.rules,
            note=body.note,
            action="policy.save",
        )
        return _describe(row, agent, active=True)


def clear_policy(rt: Runtime, actor: Principal, agent_name: str) -> ToolPolicy:
    """Return the agent to "no policy" (every tool allowed), as a new version."""
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.POLICIES_WRITE)
        row = _append_version(
            uow,
            rt,
            actor,
            agent,
            source=None,
            rules=None,
            note="policy removed",
            action="policy.clear",
        )
        return _describe(row, agent, active=True)


def restore_version(rt: Runtime, actor: Principal, agent_name: str, version: int) -> ToolPolicy:
    """Put an earlier version back in force (as a new version with the same content)."""
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.POLICIES_WRITE)
        old = uow.scalars(
            select(ToolPolicyRow).where(
                ToolPolicyRow.agent_id == agent.id, ToolPolicyRow.version == version
            )
        ).one_or_none()
        if old is None:
            raise NotFound(
                f"agent {agent.name!r} has no policy version {version}.",
                code="policy_version_not_found",
            )
        rules = None if old.rules is None else [ToolRule.model_validate(r) for r in old.rules]
        row = _append_version(
            uow,
            rt,
            actor,
            agent,
            source=old.source,
            rules=rules,
            note=f"restored version {version}",
            action="policy.restore",
        )
        return _describe(row, agent, active=True)


def get_policy(rt: Runtime, actor: Principal, agent_name: str) -> ToolPolicy | None:
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        row = active_policy(uow, agent.id)
        return None if row is None else _describe(row, agent, active=True)


def list_versions(rt: Runtime, actor: Principal, agent_name: str) -> list[ToolPolicy]:
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        rows = uow.scalars(
            select(ToolPolicyRow)
            .where(ToolPolicyRow.agent_id == agent.id)
            .order_by(ToolPolicyRow.version.desc())
        ).all()
        return [_describe(r, agent, active=i == 0) for i, r in enumerate(rows)]


def decide_tool_call(
    uow: Session,
    rt: Runtime,
    *,
    actor: Principal,
    agent: AgentRow,
    project: ProjectRow,
    tool: str,
    args: Mapping[str, Any],
    via: str,
) -> AuthorizeDecision:
    """The decision for one tool call, appended to the audit trail in ``uow``.

    The single place tool calls are decided: ``POST /v1/authorize``, the gateway and the MCP side
    all call it.
    """
    row = active_policy(uow, agent.id)
    if row is None or row.source is None:
        decision = AuthorizeDecision(
            allowed=True,
            reason="no_policy",
            agent=agent.name,
            tool=tool,
            policies=[],
            policy_version=row.version if row else None,
            message=f"agent {agent.name!r} has no tool policy; every tool is allowed.",
        )
    else:
        result = evaluate(
            parse_policy(agent.name, row.source), agent.name, project.name, tool, args
        )
        decision = AuthorizeDecision(
            allowed=result.allowed,
            reason=result.reason,
            agent=agent.name,
            tool=tool,
            policies=result.policies,
            policy_version=row.version,
            errors=result.errors,
            message=_explain(agent.name, tool, result.reason, result.policies, row.version),
        )
    record_audit(
        uow,
        actor=actor,
        action="tool.authorize",
        target_kind="tool",
        target_id=tool,
        project=project,
        outcome="success" if decision.allowed else "denied",
        policy_version=None if decision.policy_version is None else str(decision.policy_version),
        details={
            "agent": agent.name,
            "reason": decision.reason,
            "policies": decision.policies,
            "via": via,
            "args": _audited_args(args),
        },
        now=rt.clock.now(),
    )
    return decision


def _explain(agent: str, tool: str, reason: str, policies: list[str], version: int) -> str:
    if reason == "permitted":
        return f"{tool!r} is allowed for {agent!r} by {', '.join(policies)} (policy v{version})."
    if reason == "forbidden":
        return f"{tool!r} is denied for {agent!r} by {', '.join(policies)} (policy v{version})."
    if reason == "error":
        return (
            f"{tool!r} is denied for {agent!r}: the policy (v{version}) could not be evaluated "
            "for these arguments, and errors deny."
        )
    return f"{tool!r} is denied for {agent!r}: no statement of policy v{version} allows it."


def _audited_args(args: Mapping[str, Any]) -> Any:
    encoded = json.dumps(args, default=str, sort_keys=True)
    if len(encoded) <= _AUDITED_ARGS_BYTES:
        return json.loads(encoded)
    return {"omitted": f"{len(encoded)} bytes", "keys": sorted(map(str, args))}


def authorize_tool(rt: Runtime, actor: Principal, body: AuthorizeRequest) -> AuthorizeDecision:
    """``POST /v1/authorize``: may this agent call this tool with these arguments here?"""
    with rt.db.write() as uow:
        project = resolve_project(uow, actor, body.project, Permission.AGENTS_READ)
        if actor.kind == "agent":
            if body.agent not in (None, actor.name):
                raise Forbidden(
                    "an agent can only ask about its own tool calls.", code="permission_denied"
                )
            agent = uow.get_one(AgentRow, actor.id)
        else:
            if body.agent is None:
                raise InvalidRequest(
                    "name the agent to decide for ('agent'), or call with the agent's key.",
                    code="agent_required",
                )
            agent = find_agent(uow, actor, body.agent)
        if project.id not in _granted_projects(uow, agent.id):
            raise Forbidden(
                f"agent {agent.name!r} is not granted project {project.name!r}.",
                code="agent_not_in_project",
            )
        return decide_tool_call(
            uow,
            rt,
            actor=actor,
            agent=agent,
            project=project,
            tool=body.tool,
            args=body.args,
            via="api",
        )


def _granted_projects(uow: Session, agent_id: int) -> set[int]:
    return set(
        uow.scalars(
            select(ProjectMemberRow.project_id).where(ProjectMemberRow.agent_id == agent_id)
        )
    )
