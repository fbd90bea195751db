"""Agents: named identities that act in the projects they are granted."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize
from corral.core.audit import record_audit
from corral.core.pagination import decode_cursor, encode_cursor
from corral.core.runtime import Runtime
from corral.db.schema import AgentRow, ProjectMemberRow, ProjectRow
from corral.errors import Conflict, NotFound
from corral.schemas.access import Permission
from corral.schemas.common import Page
from corral.schemas.tenancy import Agent, AgentCreate, AgentUpdate


def describe_agents(uow: Session, rows: list[AgentRow], actor: Principal) -> list[Agent]:
    """Agents with the projects they are granted, limited to projects the caller can see."""
    granted: dict[int, list[str]] = {row.id: [] for row in rows}
    scope = actor.project_scope()
    for agent_id, project_id, project_name in uow.execute(
        select(ProjectMemberRow.agent_id, ProjectRow.id, ProjectRow.name)
        .join(ProjectRow, ProjectRow.id == ProjectMemberRow.project_id)
        .where(ProjectMemberRow.agent_id.in_(granted))
        .order_by(ProjectRow.name)
    ):
        if agent_id is not None and (scope is None or project_id in scope):
            granted[agent_id].append(project_name)
    return [
        Agent(
            id=row.id,
            name=row.name,
            description=row.description,
            disabled=row.disabled,
            created_at=row.created_at,
            projects=granted[row.id],
        )
        for row in rows
    ]


def create_agent(rt: Runtime, actor: Principal, body: AgentCreate) -> Agent:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    row = AgentRow(
        name=body.name, description=body.description, disabled=False, created_at=rt.clock.now()
    )
    try:
        with rt.db.write() as uow:
            uow.add(row)
            uow.flush()
            record_audit(
                uow,
                actor=actor,
                action="agent.create",
                target_kind="agent",
                target_id=row.name,
                now=row.created_at,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"an agent named {body.name!r} already exists.",
            code="agent_exists",
            details={"agent": body.name},
        ) from exc
    return Agent(
        id=row.id,
        name=row.name,
        description=row.description,
        disabled=row.disabled,
        created_at=row.created_at,
    )


def list_agents(
    rt: Runtime, actor: Principal, *, limit: int = 100, cursor: str | None = None
) -> Page[Agent]:
    """Agents visible to the caller: all of them for workspace admins, otherwise the agents
    granted to a project the caller reaches (and the calling agent itself)."""
    query = select(AgentRow).order_by(AgentRow.id)
    scope = actor.project_scope()
    if scope is not None:
        granted = select(ProjectMemberRow.agent_id).where(
            ProjectMemberRow.project_id.in_(scope), ProjectMemberRow.agent_id.is_not(None)
        )
        visible: ColumnElement[bool] = AgentRow.id.in_(granted)
        if actor.kind == "agent":
            visible = or_(visible, AgentRow.id == actor.id)
        query = query.where(visible)
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(AgentRow.id > int(last_id))
    with rt.db.read() as uow:
        rows = list(uow.scalars(query.limit(limit + 1)).all())
        data = describe_agents(uow, rows[:limit], actor)
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[Agent](data=data, next_cursor=next_cursor)


def get_agent(rt: Runtime, actor: Principal, name: str) -> Agent:
    with rt.db.read() as uow:
        row = find_agent(uow, actor, name)
        return describe_agents(uow, [row], actor)[0]


def update_agent(rt: Runtime, actor: Principal, name: str, body: AgentUpdate) -> Agent:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.write() as uow:
        row = find_agent(uow, actor, name)
        changes = body.model_dump(exclude_unset=True)
        before = {field: getattr(row, field) for field in changes}
        for field, value in changes.items():
            setattr(row, field, value)
        uow.flush()
        record_audit(
            uow,
            actor=actor,
            action="agent.update",
            target_kind="agent",
            target_id=row.name,
            details={"before": before, "after": changes},
            now=rt.clock.now(),
        )
        return describe_agents(uow, [row], actor)[0]


def find_agent(uow: Session, actor: Principal, name: str) -> AgentRow:
    """An agent by name, if the caller may see it (otherwise the same 404 as a missing one)."""
    row = uow.scalars(select(AgentRow).where(AgentRow.name == name)).one_or_none()
    if row is not None and not _visible(uow, actor, row):
        row = None
    if row is None:
        raise NotFound(
            f"agent {name!r} does not exist or is not granted to a project you reach.",
            code="agent_not_found",
            details={"agent": name},
        )
    return row


def _visible(uow: Session, actor: Principal, row: AgentRow) -> bool:
    scope = actor.project_scope()
    if scope is None or (actor.kind == "agent" and actor.id == row.id):
        return True
    granted = uow.scalars(
        select(ProjectMemberRow.project_id).where(ProjectMemberRow.agent_id == row.id)
    ).all()
    return any(pid in scope for pid in granted)


def authorize_agent_change(
    uow: Session, actor: Principal, agent: AgentRow, permission: Permission
) -> None:
    """Changes to an agent's behaviour (policy, versions, deployments) affect every project it
    acts in: they need ``permission`` in each of them (workspace admins for unassigned agents)."""
    project_ids = uow.scalars(
        select(ProjectMemberRow.project_id).where(ProjectMemberRow.agent_id == agent.id)
    ).all()
    if not project_ids:
        authorize(actor, Permission.WORKSPACE_ADMIN)
    for project_id in project_ids:
        authorize(actor, permission, uow.get_one(ProjectRow, project_id))
