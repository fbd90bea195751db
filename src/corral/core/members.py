"""Who may act in a project, and with which role."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.agents import find_agent
from corral.core.audit import record_audit
from corral.core.runtime import Runtime
from corral.db.schema import AgentRow, ProjectMemberRow, ProjectRow, UserRow
from corral.errors import NotFound
from corral.schemas.access import Permission, Role
from corral.schemas.tenancy import Membership


def list_members(rt: Runtime, actor: Principal, project: str) -> list[Membership]:
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.PROJECTS_READ)
        users = uow.execute(
            select(UserRow.id, UserRow.email, ProjectMemberRow.role)
            .join(ProjectMemberRow, ProjectMemberRow.user_id == UserRow.id)
            .where(ProjectMemberRow.project_id == row.id)
            .order_by(UserRow.email)
        ).all()
        agents = uow.execute(
            select(AgentRow.id, AgentRow.name, ProjectMemberRow.role)
            .join(ProjectMemberRow, ProjectMemberRow.agent_id == AgentRow.id)
            .where(ProjectMemberRow.project_id == row.id)
            .order_by(AgentRow.name)
        ).all()
    return [
        Membership(
            project=row.name, principal_kind="user", principal_id=i, principal_name=n, role=Role(r)
        )
        for i, n, r in users
    ] + [
        Membership(
            project=row.name, principal_kind="agent", principal_id=i, principal_name=n, role=Role(r)
        )
        for i, n, r in agents
    ]


def set_user_role(
    rt: Runtime, actor: Principal, project: str, user_id: int, role: Role
) -> Membership:
    with rt.db.write() as uow:
        row = resolve_project(uow, actor, project, Permission.PROJECTS_ADMIN)
        user = uow.get(UserRow, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist.", code="user_not_found")
        _upsert(uow, rt, actor, row, role, user_id=user.id, label=user.email)
        return Membership(
            project=row.name,
            principal_kind="user",
            principal_id=user.id,
            principal_name=user.email,
            role=role,
        )


def grant_agent(rt: Runtime, actor: Principal, project: str, agent: str, role: Role) -> Membership:
    with rt.db.write() as uow:
        row = resolve_project(uow, actor, project, Permission.PROJECTS_ADMIN)
        agent_row = _agent_by_name(uow, actor, agent)
        _upsert(uow, rt, actor, row, role, agent_id=agent_row.id, label=agent_row.name)
        return Membership(
            project=row.name,
            principal_kind="agent",
            principal_id=agent_row.id,
            principal_name=agent_row.name,
            role=role,
        )


def remove_user(rt: Runtime, actor: Principal, project: str, user_id: int) -> None:
    with rt.db.write() as uow:
        row = resolve_project(uow, actor, project, Permission.PROJECTS_ADMIN)
        _remove(uow, rt, actor, row, ProjectMemberRow.user_id == user_id, ("user", str(user_id)))


def revoke_agent(rt: Runtime, actor: Principal, project: str, agent: str) -> None:
    with rt.db.write() as uow:
        row = resolve_project(uow, actor, project, Permission.PROJECTS_ADMIN)
        agent_row = _agent_by_name(uow, actor, agent)
        _remove(uow, rt, actor, row, ProjectMemberRow.agent_id == agent_row.id, ("agent", agent))


def _agent_by_name(uow: Session, actor: Principal, name: str) -> AgentRow:
    # A project admin may grant any agent of the workspace, including one not yet granted
    # anywhere they can see; only its name is needed.
    row = uow.scalars(select(AgentRow).where(AgentRow.name == name)).one_or_none()
    return row if row is not None else find_agent(uow, actor, name)


def _upsert(
    uow: Session,
    rt: Runtime,
    actor: Principal,
    project: ProjectRow,
    role: Role,
    *,
    label: str,
    user_id: int | None = None,
    agent_id: int | None = None,
) -> None:
    record_audit(
        uow,
        actor=actor,
        action="member.set_role",
        target_kind="user" if user_id is not None else "agent",
        target_id=label,
        project=project,
        details={"role": role.value},
        now=rt.clock.now(),
    )
    existing = uow.scalars(
        select(ProjectMemberRow).where(
            ProjectMemberRow.project_id == project.id,
            ProjectMemberRow.user_id == user_id
            if user_id is not None
            else ProjectMemberRow.agent_id == agent_id,
        )
    ).one_or_none()
    if existing is not None:
        existing.role = role.value
        return
    uow.add(
        ProjectMemberRow(
            project_id=project.id,
            user_id=user_id,
            agent_id=agent_id,
            role=role.value,
            created_at=rt.clock.now(),
        )
    )


def _remove(
    uow: Session,
    rt: Runtime,
    actor: Principal,
    project: ProjectRow,
    which: object,
    target: tuple[str, str],
) -> None:
    kind, name = target
    label = f"{kind} {name!r}"
    result = uow.execute(
        delete(ProjectMemberRow).where(ProjectMemberRow.project_id == project.id, which)  # type: ignore[arg-type]
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(
            f"{label} is not a member of project {project.name!r}.", code="member_not_found"
        )
    record_audit(
        uow,
        actor=actor,
        action="member.remove",
        target_kind=kind,
        target_id=name,
        project=project,
        now=rt.clock.now(),
    )
