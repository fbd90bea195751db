from __future__ import annotations

import pytest

from corral.core.access import Principal, authorize
from corral.db.schema import ProjectRow
from corral.errors import Forbidden
from corral.schemas.access import Permission, Role

P = Permission


def project(pid: int, name: str = "p") -> ProjectRow:
    return ProjectRow(id=pid, name=name)


def user(**kwargs: object) -> Principal:
    return Principal(kind="user", id=1, name="u@example.com", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.VIEWER, P.MEMORY_READ, True),
        (Role.VIEWER, P.MEMORY_WRITE, False),
        (Role.VIEWER, P.TRACES_WRITE, False),
        (Role.MEMBER, P.MEMORY_WRITE, True),
        (Role.MEMBER, P.GATEWAY_CALL, True),
        (Role.MEMBER, P.POLICIES_WRITE, False),
        (Role.MEMBER, P.PROJECTS_ADMIN, False),
        (Role.ADMIN, P.POLICIES_WRITE, True),
        (Role.ADMIN, P.WORKSPACE_ADMIN, False),
    ],
)
def test_role_grants(role: Role, permission: Permission, allowed: bool) -> None:
    assert user(project_roles={7: role}).may(permission, 7) is allowed


def test_no_role_in_other_project() -> None:
    actor = user(project_roles={7: Role.ADMIN})
    assert not actor.may(P.PROJECTS_READ, 8)
    with pytest.raises(Forbidden) as err:
        authorize(actor, P.PROJECTS_READ, project(8, "other"))
    assert err.value.code == "project_access_denied"


def test_workspace_admin_is_admin_everywhere_unless_key_limits_it() -> None:
    admin = user(workspace_admin=True)
    assert admin.may(P.POLICIES_WRITE, 99)
    assert admin.may(P.WORKSPACE_ADMIN)
    assert admin.project_scope() is None
    limited = user(workspace_admin=True, key_projects=frozenset({1}))
    assert limited.may(P.POLICIES_WRITE, 1)
    assert not limited.may(P.MEMORY_READ, 2)
    # A project-limited key never carries workspace-wide power.
    assert not limited.may(P.WORKSPACE_ADMIN)
    assert limited.project_scope() == frozenset({1})


def test_key_permissions_narrow_the_role() -> None:
    actor = user(project_roles={1: Role.ADMIN}, key_permissions=frozenset({P.TRACES_WRITE}))
    assert actor.may(P.TRACES_WRITE, 1)
    assert not actor.may(P.MEMORY_READ, 1)
    with pytest.raises(Forbidden) as err:
        authorize(actor, P.MEMORY_READ, project(1))
    assert "limited to" in err.value.message
    assert err.value.code == "permission_denied"


def test_key_permissions_never_widen_the_role() -> None:
    actor = user(project_roles={1: Role.VIEWER}, key_permissions=frozenset(P))
    assert not actor.may(P.MEMORY_WRITE, 1)
    assert not actor.may(P.WORKSPACE_ADMIN)


def test_forbidden_message_names_role_and_permission() -> None:
    actor = user(project_roles={1: Role.VIEWER})
    with pytest.raises(Forbidden) as err:
        authorize(actor, P.MEMORY_WRITE, project(1, "acme"))
    assert err.value.details == {"permission": "memory:write", "project": "acme", "role": "viewer"}
    assert "'viewer' role" in err.value.message
