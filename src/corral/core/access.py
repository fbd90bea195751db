"""Who is acting, and the one function that decides what they may do.

Every interface (REST routes, the gateway, the MCP server, the console) authenticates a caller into
a :class:`Principal` and then calls :func:`authorize` or :func:`resolve_project`; no route carries
its own permission check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.db.schema import ProjectRow
from corral.errors import Forbidden, NotFound
from corral.schemas.access import ROLE_PERMISSIONS, Permission, Role

PrincipalKind = Literal["user", "agent"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user or an agent, seen through the key (or session) it used.

    ``project_roles`` holds the roles granted by membership. A workspace admin holds ``admin`` in
    every project. A key narrows what its owner can do: ``key_projects`` (None means every
    project the owner reaches) and ``key_permissions`` (None means every permission of the role).
    """

    kind: PrincipalKind
    id: int
    name: str
    workspace_admin: bool = False
    project_roles: Mapping[int, Role] = field(default_factory=dict)
    key_id: str | None = None
    key_projects: frozenset[int] | None = None
    key_permissions: frozenset[Permission] | None = None

    @property
    def label(self) -> str:
        """How errors and the audit trail name this principal."""
        return f"{self.kind} {self.name!r}"

    @property
    def sees_every_project(self) -> bool:
        """True when no project is hidden from this principal (so 404 may be told apart)."""
        return self.project_scope() is None

    def role_in(self, project_id: int) -> Role | None:
        """The role this principal acts with in a project, after the key's project limit."""
        if self.key_projects is not None and project_id not in self.key_projects:
            return None
        if self.workspace_admin:
            return Role.ADMIN
        return self.project_roles.get(project_id)

    def may(self, permission: Permission, project_id: int | None = None) -> bool:
        """Whether this principal holds ``permission`` (in ``project_id``, for project ones)."""
        if self.key_permissions is not None and permission not in self.key_permissions:
            return False
        if permission is Permission.WORKSPACE_ADMIN:
            return self.workspace_admin and self.key_projects is None
        if project_id is None:
            return False
        role = self.role_in(project_id)
        return role is not None and permission in ROLE_PERMISSIONS[role]

    def project_scope(self) -> frozenset[int] | None:
        """Ids of the projects this principal reaches; None means every project."""
        if self.workspace_admin:
            return self.key_projects
        ids = frozenset(self.project_roles)
        return ids if self.key_projects is None else ids & self.key_projects


def authorize(
    principal: Principal, permission: Permission, project: ProjectRow | None = None
) -> None:
    """Raise :class:`Forbidden` unless ``principal`` holds ``permission`` (in ``project``)."""
    project_id = project.id if project is not None else None
    if principal.may(permission, project_id):
        return
    if project is None:
        raise Forbidden(
            f"{principal.label} lacks the {permission.value!r} permission; "
            "ask a workspace administrator.",
            code="permission_denied",
            details={"permission": permission.value},
        )
    role = principal.role_in(project.id)
    if role is None:
        raise _no_access(principal, project.name)
    if principal.key_permissions is not None and permission not in principal.key_permissions:
        reason = f"this API key is limited to {sorted(p.value for p in principal.key_permissions)}"
    else:
        reason = f"the {role.value!r} role does not grant it"
    raise Forbidden(
        f"{principal.label} may not use {permission.value!r} in project {project.name!r}: "
        f"{reason}. Ask an admin of the project for a higher role or a wider key.",
        code="permission_denied",
        details={"permission": permission.value, "project": project.name, "role": role.value},
    )


def resolve_project(
    uow: Session, principal: Principal, name: str, permission: Permission
) -> ProjectRow:
    """Find a project by name and check ``permission`` in it.

    A principal that cannot see every project gets the same 403 for a project that does not exist
    as for one it may not reach, so that keys cannot be used to discover project names.
    """
    row = uow.scalars(select(ProjectRow).where(ProjectRow.name == name)).one_or_none()
    if row is None:
        if principal.sees_every_project:
            raise NotFound(
                f"project {name!r} does not exist; `corral projects list` shows the projects.",
                code="project_not_found",
                details={"project": name},
            )
        raise _no_access(principal, name)
    authorize(principal, permission, row)
    return row


def _no_access(principal: Principal, project_name: str) -> Forbidden:
    return Forbidden(
        f"{principal.label} has no access to project {project_name!r} with this key.",
        code="project_access_denied",
        details={"project": project_name},
    )
