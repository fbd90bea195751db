"""Roles and permissions: the vocabulary of authorization."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A principal's role in one project."""

    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"


class Permission(StrEnum):
    """What an action needs. Project permissions are checked against the role held in a project;
    ``workspace:admin`` is held only by workspace administrators."""

    PROJECTS_READ = "projects:read"
    PROJECTS_WRITE = "projects:write"
    PROJECTS_ADMIN = "projects:admin"
    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    MEMORY_READ = "memory:read"
    MEMORY_WRITE = "memory:write"
    TRACES_READ = "traces:read"
    TRACES_WRITE = "traces:write"
    COSTS_READ = "costs:read"
    BUDGETS_WRITE = "budgets:write"
    GATEWAY_CALL = "gateway:call"
    POLICIES_WRITE = "policies:write"
    AUDIT_READ = "audit:read"
    WORKSPACE_ADMIN = "workspace:admin"


_READ = frozenset(
    {
        Permission.PROJECTS_READ,
        Permission.AGENTS_READ,
        Permission.MEMORY_READ,
        Permission.TRACES_READ,
        Permission.COSTS_READ,
    }
)
_WRITE = _READ | {
    Permission.PROJECTS_WRITE,
    Permission.AGENTS_WRITE,
    Permission.MEMORY_WRITE,
    Permission.TRACES_WRITE,
    Permission.GATEWAY_CALL,
}
_ADMIN = _WRITE | {
    Permission.PROJECTS_ADMIN,
    Permission.BUDGETS_WRITE,
    Permission.POLICIES_WRITE,
    Permission.AUDIT_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _READ,
    Role.MEMBER: frozenset(_WRITE),
    Role.ADMIN: frozenset(_ADMIN),
}
"""The permissions each role grants in a project."""
