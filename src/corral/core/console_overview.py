"""What the console's overview page shows, gathered in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from corral.core.access import Principal
from corral.core.agents import list_agents
from corral.core.audit_trail import AuditFilter, list_events
from corral.core.projects import list_projects
from corral.core.runtime import Runtime
from corral.db.schema import AgentVersionRow, DeploymentRow
from corral.errors import Forbidden
from corral.schemas.audit import AuditEvent
from corral.schemas.tenancy import Project


@dataclass
class AgentStatus:
    name: str
    description: str
    disabled: bool
    projects: list[str]
    active_version: int | None = None
    canary_version: int | None = None
    canary_weight: float = 0.0


@dataclass
class Overview:
    agents: list[AgentStatus]
    projects: list[Project]
    activity: list[AuditEvent] = field(default_factory=list)


def overview(rt: Runtime, actor: Principal, *, environment: str = "production") -> Overview:
    agents = list_agents(rt, actor, limit=200).data
    statuses = {a.name: AgentStatus(a.name, a.description, a.disabled, a.projects) for a in agents}
    ids = {a.id: a.name for a in agents}
    with rt.db.read() as uow:
        rows = uow.execute(
            select(DeploymentRow, AgentVersionRow.number)
            .outerjoin(AgentVersionRow, AgentVersionRow.id == DeploymentRow.active_version_id)
            .where(DeploymentRow.agent_id.in_(ids), DeploymentRow.environment == environment)
        ).all()
        canaries = dict(
            uow.execute(
                select(AgentVersionRow.id, AgentVersionRow.number).where(
                    AgentVersionRow.id.in_(
                        [d.canary_version_id for d, _ in rows if d.canary_version_id]
                    )
                )
            ).all()
        )
    for deployment, active in rows:
        status = statuses[ids[deployment.agent_id]]
        status.active_version = active
        canary_id = deployment.canary_version_id
        status.canary_version = canaries.get(canary_id) if canary_id is not None else None
        status.canary_weight = deployment.canary_weight
    try:
        activity = list_events(rt, actor, AuditFilter(), limit=15).data
    except Forbidden:
        activity = []
    return Overview(
        agents=list(statuses.values()),
        projects=list_projects(rt, actor, limit=10).data,
        activity=activity,
    )
