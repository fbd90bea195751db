"""Build a :class:`~corral.core.access.Principal` from the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal, PrincipalKind
from corral.db.schema import AgentRow, ProjectMemberRow, UserRow
from corral.errors import Unauthenticated
from corral.schemas.access import Permission, Role


def load_principal(
    uow: Session,
    *,
    user: UserRow | None = None,
    agent: AgentRow | None = None,
    key_id: str | None = None,
    key_projects: frozenset[int] | None = None,
    key_permissions: frozenset[Permission] | None = None,
) -> Principal:
    """The principal for a user or an agent, with its project roles, seen through a key."""
    if user is not None:
        if user.disabled:
            raise Unauthenticated(
                f"user {user.email!r} is disabled; a workspace administrator can enable it.",
                code="principal_disabled",
            )
        member_filter = ProjectMemberRow.user_id == user.id
        kind: PrincipalKind = "user"
        principal_id, name, admin = user.id, user.email, user.workspace_admin
    elif agent is not None:
        if agent.disabled:
            raise Unauthenticated(
                f"agent {agent.name!r} is disabled; a workspace administrator can enable it.",
                code="principal_disabled",
            )
        member_filter = ProjectMemberRow.agent_id == agent.id
        kind = "agent"
        principal_id, name, admin = agent.id, agent.name, False
    else:
        raise ValueError("load_principal needs a user or an agent")
    roles = {
        project_id: Role(role)
        for project_id, role in uow.execute(
            select(ProjectMemberRow.project_id, ProjectMemberRow.role).where(member_filter)
        )
    }
    return Principal(
        kind=kind,
        id=principal_id,
        name=name,
        workspace_admin=admin,
        project_roles=roles,
        key_id=key_id,
        key_projects=key_projects,
        key_permissions=key_permissions,
    )
