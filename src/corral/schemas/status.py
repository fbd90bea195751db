"""Server status and the caller's identity."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from corral.schemas.access import Permission, Role
from corral.schemas.common import ResponseModel


class Whoami(ResponseModel):
    kind: Literal["user", "agent"]
    id: int
    name: str
    workspace_admin: bool
    key_id: str | None
    roles: dict[str, Role] = Field(description="Role per reachable project, by project name.")
    key_permissions: list[Permission] | None = None


class Status(ResponseModel):
    version: str
    workspace: str
    database: Literal["sqlite", "postgresql"]
    schema_revision: str | None
    principal: Whoami


class Health(ResponseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None
