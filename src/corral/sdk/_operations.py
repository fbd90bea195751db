"""The calls of each resource, written once for both clients."""

from __future__ import annotations

from datetime import datetime

from corral.schemas.common import Page
from corral.schemas.keys import ApiKey, ApiKeyCreated
from corral.schemas.status import Status
from corral.schemas.tenancy import Agent, Membership, Project, User
from corral.sdk._calls import Call, body_of, no_content, parser, segment

_project = parser(Project)
_projects = parser(Page[Project])
_agent = parser(Agent)
_agents = parser(Page[Agent])
_user = parser(User)
_users = parser(Page[User])
_key = parser(ApiKey)
_keys = parser(list[ApiKey])
_membership = parser(Membership)
_memberships = parser(list[Membership])


def status() -> Call[Status]:
    return Call("GET", "/v1/status", parser(Status))


def list_projects(cursor: str | None) -> Call[Page[Project]]:
    return Call("GET", "/v1/projects", _projects, params=body_of(cursor=cursor, limit=200))


def create_project(name: str, description: str, retention_days: int | None) -> Call[Project]:
    body = body_of(name=name, description=description, retention_days=retention_days)
    return Call("POST", "/v1/projects", _project, json=body)


def get_project(name: str) -> Call[Project]:
    return Call("GET", f"/v1/projects/{segment(name)}", _project)


def update_project(
    name: str, new_name: str | None, description: str | None, retention_days: int | None
) -> Call[Project]:
    body = body_of(name=new_name, description=description, retention_days=retention_days)
    return Call("PATCH", f"/v1/projects/{segment(name)}", _project, json=body)


def delete_project(name: str) -> Call[None]:
    return Call("DELETE", f"/v1/projects/{segment(name)}", no_content)


def list_members(project: str) -> Call[list[Membership]]:
    return Call("GET", f"/v1/projects/{segment(project)}/members", _memberships)


def set_user_role(project: str, user_id: int, role: str) -> Call[Membership]:
    path = f"/v1/projects/{segment(project)}/members/users/{segment(user_id)}"
    return Call("PUT", path, _membership, json={"role": role})


def remove_user(project: str, user_id: int) -> Call[None]:
    path = f"/v1/projects/{segment(project)}/members/users/{segment(user_id)}"
    return Call("DELETE", path, no_content)


def grant_agent(project: str, agent: str, role: str) -> Call[Membership]:
    path = f"/v1/projects/{segment(project)}/members/agents/{segment(agent)}"
    return Call("PUT", path, _membership, json={"role": role})


def revoke_agent(project: str, agent: str) -> Call[None]:
    path = f"/v1/projects/{segment(project)}/members/agents/{segment(agent)}"
    return Call("DELETE", path, no_content)


def list_agents(cursor: str | None) -> Call[Page[Agent]]:
    return Call("GET", "/v1/agents", _agents, params=body_of(cursor=cursor, limit=200))


def create_agent(name: str, description: str) -> Call[Agent]:
    return Call("POST", "/v1/agents", _agent, json={"name": name, "description": description})


def get_agent(name: str) -> Call[Agent]:
    return Call("GET", f"/v1/agents/{segment(name)}", _agent)


def update_agent(name: str, description: str | None, disabled: bool | None) -> Call[Agent]:
    body = body_of(description=description, disabled=disabled)
    return Call("PATCH", f"/v1/agents/{segment(name)}", _agent, json=body)


def list_users(cursor: str | None) -> Call[Page[User]]:
    return Call("GET", "/v1/users", _users, params=body_of(cursor=cursor, limit=200))


def create_user(email: str, name: str, workspace_admin: bool) -> Call[User]:
    body = {"email": email, "name": name, "workspace_admin": workspace_admin}
    return Call("POST", "/v1/users", _user, json=body)


def get_user(user_id: int) -> Call[User]:
    return Call("GET", f"/v1/users/{segment(user_id)}", _user)


def update_user(
    user_id: int, name: str | None, workspace_admin: bool | None, disabled: bool | None
) -> Call[User]:
    body = body_of(name=name, workspace_admin=workspace_admin, disabled=disabled)
    return Call("PATCH", f"/v1/users/{segment(user_id)}", _user, json=body)


def list_keys(include_revoked: bool) -> Call[list[ApiKey]]:
    params = {"include_revoked": "true"} if include_revoked else {}
    return Call("GET", "/v1/keys", _keys, params=params)


def create_key(
    name: str,
    agent: str | None,
    user_id: int | None,
    projects: list[str] | None,
    permissions: list[str] | None,
    expires_at: datetime | None,
) -> Call[ApiKeyCreated]:
    body = body_of(
        name=name,
        agent=agent,
        user_id=user_id,
        projects=projects,
        permissions=permissions,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return Call("POST", "/v1/keys", parser(ApiKeyCreated), json=body)


def revoke_key(key_id: str) -> Call[ApiKey]:
    return Call("DELETE", f"/v1/keys/{segment(key_id)}", _key)
