"""What the console's Agents pages show: every agent's deployments, rollouts and last activity,
and one agent's versions, deployments, rollouts and tool policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corral.core import deployments, policies, rollouts, versions
from corral.core.access import Principal
from corral.core.agents import authorize_agent_change, find_agent, get_agent, list_agents
from corral.core.runtime import Runtime
from corral.db.schema import (
    AgentActivityRow,
    AgentRow,
    DeploymentRow,
    ProjectMemberRow,
    RolloutRow,
)
from corral.errors import Forbidden
from corral.schemas.access import Permission
from corral.schemas.lifecycle import AgentVersion, Deployment, Rollout, VersionDiff
from corral.schemas.policies import ToolPolicy
from corral.schemas.tenancy import Agent


@dataclass
class AgentSummary:
    agent: Agent
    deployments: list[Deployment] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)
    """Rollouts in progress."""
    last_activity: datetime | None = None


@dataclass
class AgentDetail:
    agent: Agent
    versions: list[AgentVersion]
    deployments: list[Deployment]
    rollouts: list[Rollout]
    """Newest first; those in progress carry their current step's analysis so far."""
    policy: ToolPolicy | None
    may_change: bool
    last_activity: datetime | None
    diff: VersionDiff | None = None
    compare: tuple[int, int] | None = None


def last_activity(uow: Session, actor: Principal, agent_id: int, name: str) -> datetime | None:
    """When the agent's newest span ended, in its projects that the viewer reaches."""
    granted = select(ProjectMemberRow.project_id).where(ProjectMemberRow.agent_id == agent_id)
    query = select(func.max(AgentActivityRow.last_seen)).where(
        AgentActivityRow.project_id.in_(granted), AgentActivityRow.agent_name == name
    )
    scope = actor.project_scope()
    if scope is not None:
        query = query.where(AgentActivityRow.project_id.in_(scope))
    return uow.execute(query).scalar_one_or_none()


def agent_summaries(rt: Runtime, actor: Principal) -> list[AgentSummary]:
    """The agents the viewer sees, with what each environment serves and running rollouts."""
    agents = list_agents(rt, actor, limit=500).data
    summaries = {a.id: AgentSummary(a) for a in agents}
    with rt.db.read() as uow:
        for row in uow.scalars(
            select(DeploymentRow)
            .where(DeploymentRow.agent_id.in_(summaries))
            .order_by(DeploymentRow.environment)
        ):
            summary = summaries[row.agent_id]
            summary.deployments.append(
                deployments.describe_deployment(uow, row, summary.agent.name)
            )
        for rollout in uow.scalars(
            select(RolloutRow).where(
                RolloutRow.agent_id.in_(summaries), RolloutRow.status.in_(rollouts.IN_PROGRESS)
            )
        ):
            summary = summaries[rollout.agent_id]
            summary.rollouts.append(rollouts.describe_rollout(uow, rollout, summary.agent.name))
        for agent_id, summary in summaries.items():
            summary.last_activity = last_activity(uow, actor, agent_id, summary.agent.name)
    return list(summaries.values())


def may_change_agent(rt: Runtime, actor: Principal, name: str) -> bool:
    """Whether the viewer may deploy, roll out and roll back this agent (shows the buttons)."""
    with rt.db.read() as uow:
        agent: AgentRow = find_agent(uow, actor, name)
        try:
            authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        except Forbidden:
            return False
    return True


def agent_detail(
    rt: Runtime, actor: Principal, name: str, compare: tuple[int, int] | None = None
) -> AgentDetail:
    """Everything the agent page shows; ``compare`` picks two versions to diff (default: the
    two newest)."""
    agent = get_agent(rt, actor, name)
    listed_versions = versions.list_versions(rt, actor, name)
    if compare is None and len(listed_versions) >= 2:
        compare = (listed_versions[1].number, listed_versions[0].number)
    listed = rollouts.list_rollouts(rt, actor, name)
    shown = [
        rollouts.get_rollout(rt, actor, name, r.id) if r.status in rollouts.IN_PROGRESS else r
        for r in listed
    ]
    with rt.db.read() as uow:
        row = find_agent(uow, actor, name)
        last = last_activity(uow, actor, row.id, row.name)
    return AgentDetail(
        agent=agent,
        versions=listed_versions,
        deployments=deployments.list_deployments(rt, actor, name),
        rollouts=shown,
        policy=policies.get_policy(rt, actor, name),
        may_change=may_change_agent(rt, actor, name),
        last_activity=last,
        diff=versions.diff_versions(rt, actor, name, *compare) if compare else None,
        compare=compare,
    )
