from __future__ import annotations

from fastapi import APIRouter

from corral.core import policies
from corral.schemas.policies import AuthorizeDecision, AuthorizeRequest, PolicySave, ToolPolicy
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(tags=["policies"])


@router.get("/agents/{agent}/policy", summary="The tool policy in force for an agent")
def get_policy(rt: RuntimeDep, actor: Actor, agent: str) -> ToolPolicy | None:
    return policies.get_policy(rt, actor, agent)


@router.put(
    "/agents/{agent}/policy",
    summary="Save a new version of an agent's tool policy (simple rules or raw Cedar)",
)
def save_policy(rt: RuntimeDep, actor: Actor, agent: str, body: PolicySave) -> ToolPolicy:
    return policies.save_policy(rt, actor, agent, body)


@router.delete(
    "/agents/{agent}/policy", summary="Remove the agent's policy (every tool allowed again)"
)
def clear_policy(rt: RuntimeDep, actor: Actor, agent: str) -> ToolPolicy:
    return policies.clear_policy(rt, actor, agent)


@router.get("/agents/{agent}/policy/versions", summary="Every version of an agent's tool policy")
def list_versions(rt: RuntimeDep, actor: Actor, agent: str) -> list[ToolPolicy]:
    return policies.list_versions(rt, actor, agent)


@router.post(
    "/agents/{agent}/policy/versions/{version}/restore",
    summary="Put an earlier policy version back in force",
)
def restore_version(rt: RuntimeDep, actor: Actor, agent: str, version: int) -> ToolPolicy:
    return policies.restore_version(rt, actor, agent, version)


@router.post(
    "/authorize",
    summary="Decide whether an agent may call a tool with these arguments (audited)",
)
def authorize_tool(rt: RuntimeDep, actor: Actor, body: AuthorizeRequest) -> AuthorizeDecision:
    return policies.authorize_tool(rt, actor, body)
