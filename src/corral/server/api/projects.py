from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from corral.core import members, projects
from corral.core.pagination import MAX_PAGE_SIZE
from corral.schemas.common import Page
from corral.schemas.tenancy import Membership, MembershipSet, Project, ProjectCreate, ProjectUpdate
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/projects", tags=["projects"])

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


@router.get("", summary="Projects the caller reaches, most recently active first")
def list_projects(
    rt: RuntimeDep, actor: Actor, limit: Limit = 100, cursor: str | None = None
) -> Page[Project]:
    return projects.list_projects(rt, actor, limit=limit, cursor=cursor)


@router.post("", status_code=201, summary="Create a project (workspace admins)")
def create_project(rt: RuntimeDep, actor: Actor, body: ProjectCreate) -> Project:
    return projects.create_project(rt, actor, body)


@router.get("/{project}", summary="One project")
def get_project(rt: RuntimeDep, actor: Actor, project: str) -> Project:
    return projects.get_project(rt, actor, project)


@router.patch("/{project}", summary="Change a project's description, name or retention")
def update_project(rt: RuntimeDep, actor: Actor, project: str, body: ProjectUpdate) -> Project:
    return projects.update_project(rt, actor, project, body)


@router.delete("/{project}", status_code=204, summary="Delete a project and all it holds")
def delete_project(rt: RuntimeDep, actor: Actor, project: str) -> Response:
    projects.delete_project(rt, actor, project)
    return Response(status_code=204)


@router.get("/{project}/members", summary="Users and agents with a role in the project")
def list_members(rt: RuntimeDep, actor: Actor, project: str) -> list[Membership]:
    return members.list_members(rt, actor, project)


@router.put("/{project}/members/users/{user_id}", summary="Give a user a role in the project")
def set_user_role(
    rt: RuntimeDep, actor: Actor, project: str, user_id: int, body: MembershipSet
) -> Membership:
    return members.set_user_role(rt, actor, project, user_id, body.role)


@router.delete(
    "/{project}/members/users/{user_id}", status_code=204, summary="Remove a user from the project"
)
def remove_user(rt: RuntimeDep, actor: Actor, project: str, user_id: int) -> Response:
    members.remove_user(rt, actor, project, user_id)
    return Response(status_code=204)


@router.put("/{project}/members/agents/{agent}", summary="Grant an agent access to the project")
def grant_agent(
    rt: RuntimeDep, actor: Actor, project: str, agent: str, body: MembershipSet
) -> Membership:
    return members.grant_agent(rt, actor, project, agent, body.role)


@router.delete(
    "/{project}/members/agents/{agent}",
    status_code=204,
    summary="Withdraw an agent's access to the project",
)
def revoke_agent(rt: RuntimeDep, actor: Actor, project: str, agent: str) -> Response:
    members.revoke_agent(rt, actor, project, agent)
    return Response(status_code=204)
