from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from corral.core import logins, users
from corral.core.pagination import MAX_PAGE_SIZE
from corral.schemas.auth import InviteCreate, InviteCreated
from corral.schemas.common import Page
from corral.schemas.tenancy import User, UserCreate, UserUpdate
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", summary="Users (all for workspace admins; yourself otherwise)")
def list_users(
    rt: RuntimeDep,
    actor: Actor,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: str | None = None,
) -> Page[User]:
    return users.list_users(rt, actor, limit=limit, cursor=cursor)


@router.post("", status_code=201, summary="Create a user (workspace admins)")
def create_user(rt: RuntimeDep, actor: Actor, body: UserCreate) -> User:
    return users.create_user(rt, actor, body)


@router.get("/{user_id}", summary="One user")
def get_user(rt: RuntimeDep, actor: Actor, user_id: int) -> User:
    return users.get_user(rt, actor, user_id)


@router.patch("/{user_id}", summary="Rename, promote, demote, disable or enable a user")
def update_user(rt: RuntimeDep, actor: Actor, user_id: int, body: UserUpdate) -> User:
    return users.update_user(rt, actor, user_id, body)


@router.post(
    "/{user_id}/invite",
    status_code=201,
    summary="Create a one-time link with which the user sets a password (workspace admins)",
)
def invite_user(
    rt: RuntimeDep, actor: Actor, user_id: int, body: InviteCreate | None = None
) -> InviteCreated:
    return logins.create_invite(rt, actor, user_id, (body or InviteCreate()).valid_hours)
