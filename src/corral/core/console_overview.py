"""What the console's overview page shows, gathered in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from corral.core.access import Principal
from corral.core.agents import list_agents
from corral.core.alerts import list_alerts
from corral.core.audit_trail import AuditFilter, list_events
from corral.core.budgets import budget_usage, list_budgets
from corral.core.console_agents import last_activity
from corral.core.costs import cost_report
from corral.core.projects import list_projects
from corral.core.runtime import Runtime
from corral.db.schema import (
    AgentVersionRow,
    DeploymentRow,
    FindingRow,
    ProjectRow,
    SessionRow,
)
from corral.errors import Forbidden
from corral.schemas.access import Permission
from corral.schemas.alerts import Alert
from corral.schemas.audit import AuditEvent
from corral.schemas.budgets import Budget, BudgetUsage
from corral.schemas.tenancy import Project

RATE_WINDOW = timedelta(days=7)
"""Error and finding rates are over this window: long enough to mean something, short enough to
show a change."""
MAX_BUDGETS = 12


@dataclass
class AgentStatus:
    name: str
    description: str
    disabled: bool
    projects: list[str]
    active_version: int | None = None
    canary_version: int | None = None
    canary_weight: float = 0.0
    last_activity: datetime | None = None
    calls: int = 0
    """Model calls in the rate window."""
    errors: int = 0
    sessions: int = 0
    """Sessions active in the rate window."""
    findings: int = 0
    """Findings first detected in the rate window."""
    cost_usd: float = 0.0
    """Spend in the rate window."""

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    @property
    def finding_rate(self) -> float | None:
        """Findings per session."""
        return self.findings / self.sessions if self.sessions else None


@dataclass
class BudgetStatus:
    budget: Budget
    usage: BudgetUsage | None
    """The subject closest to its limit (budgets per agent or user have one counter each)."""


@dataclass
class OpenFindings:
    project: str
    severity: str
    count: int


@dataclass
class Overview:
    agents: list[AgentStatus]
    projects: list[Project]
    activity: list[AuditEvent] = field(default_factory=list)
    spend_today: float = 0.0
    spend_month: float = 0.0
    budgets: list[BudgetStatus] = field(default_factory=list)
    open_findings: list[OpenFindings] = field(default_factory=list)
    open_alerts: list[Alert] = field(default_factory=list)
    today: date | None = None


def overview(rt: Runtime, actor: Principal, *, environment: str = "production") -> Overview:
    now = rt.clock.now()
    agents = list_agents(rt, actor, limit=200).data
    statuses = {a.name: AgentStatus(a.name, a.description, a.disabled, a.projects) for a in agents}
    ids = {a.id: a.name for a in agents}
    readable = _readable(rt, actor)
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
        since = now - RATE_WINDOW
        for agent_id, name in ids.items():
            statuses[name].last_activity = last_activity(uow, actor, agent_id, name)
        for agent, count in uow.execute(
            select(SessionRow.agent_name, func.count())
            .where(SessionRow.project_id.in_(readable), SessionRow.last_seen >= since)
            .group_by(SessionRow.agent_name)
        ):
            if agent in statuses:
                statuses[agent].sessions = int(count)
        for agent, count in uow.execute(
            select(FindingRow.agent_name, func.count())
            .where(FindingRow.project_id.in_(readable), FindingRow.first_detected_at >= since)
            .group_by(FindingRow.agent_name)
        ):
            if agent in statuses:
                statuses[agent].findings = int(count)
        open_findings = [
            OpenFindings(readable[pid], severity, int(count))
            for pid, severity, count in uow.execute(
                select(FindingRow.project_id, FindingRow.severity, func.count())
                .where(FindingRow.project_id.in_(readable), FindingRow.status == "open")
                .group_by(FindingRow.project_id, FindingRow.severity)
            )
        ]
    for deployment, active in rows:
        status = statuses[ids[deployment.agent_id]]
        status.active_version = active
        canary_id = deployment.canary_version_id
        status.canary_version = canaries.get(canary_id) if canary_id is not None else None
        status.canary_weight = deployment.canary_weight
    today = now.date()
    week = cost_report(rt, actor, group_by=["agent"], since=today - timedelta(days=6), until=today)
    for row in week.rows:
        if row.agent in statuses:
            statuses[row.agent].calls = row.calls
            statuses[row.agent].errors = row.errors
            statuses[row.agent].cost_usd = row.cost_usd
    spend_today = cost_report(rt, actor, group_by=["project"], since=today, until=today)
    spend_month = cost_report(
        rt, actor, group_by=["project"], since=today.replace(day=1), until=today
    )
    try:
        activity = list_events(rt, actor, AuditFilter(), limit=15).data
    except Forbidden:
        activity = []
    return Overview(
        agents=list(statuses.values()),
        projects=list_projects(rt, actor, limit=10).data,
        activity=activity,
        spend_today=spend_today.total_usd,
        spend_month=spend_month.total_usd,
        budgets=budget_statuses(rt, actor, list_budgets(rt, actor)[:MAX_BUDGETS]),
        open_findings=sorted(open_findings, key=lambda f: (f.project, f.severity)),
        open_alerts=list_alerts(rt, actor, status="open", limit=10),
        today=today,
    )


def budget_statuses(rt: Runtime, actor: Principal, budgets: list[Budget]) -> list[BudgetStatus]:
    """Each budget with the consumption of its fullest subject in the current window."""
    return [
        BudgetStatus(b, next(iter(budget_usage(rt, actor, b.id, limit=1)), None)) for b in budgets
    ]


def _readable(rt: Runtime, actor: Principal) -> dict[int, str]:
    """Ids and names of the projects whose traces the caller may read."""
    query = select(ProjectRow.id, ProjectRow.name)
    scope = actor.project_scope()
    if scope is not None:
        query = query.where(ProjectRow.id.in_(scope))
    with rt.db.read() as uow:
        return {
            pid: name for pid, name in uow.execute(query) if actor.may(Permission.TRACES_READ, pid)
        }
