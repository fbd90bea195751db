"""Projects, users, agents and memberships."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from corral.schemas.access import Role
from corral.schemas.common import Description, Email, Model, Name, ResponseModel


class ProjectCreate(Model):
    name: Name
    description: Description = ""
    retention_days: int | None = Field(
        default=None, ge=1, le=36500, description="Keep traces this many days; null keeps them."
    )


class ProjectUpdate(Model):
    name: Name | None = None
    description: Description | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36500)


class Project(ResponseModel):
    id: int
    name: str
    description: str
    retention_days: int | None
    created_at: datetime
    last_active_at: datetime
    role: Role | None = Field(
        default=None, description="The caller's role in this project (admin for workspace admins)."
    )


class UserCreate(Model):
    email: Email
    name: str = Field(default="", max_length=200)
    workspace_admin: bool = False


class UserUpdate(Model):
    name: str | None = Field(default=None, max_length=200)
    workspace_admin: bool | None = None
    disabled: bool | None = None


class User(ResponseModel):
    id: int
    email: str
    name: str
    workspace_admin: bool
    disabled: bool
    created_at: datetime


class AgentCreate(Model):
    name: Name
    description: Description = ""


class AgentUpdate(Model):
    description: Description | None = None
    disabled: bool | None = None


class Agent(ResponseModel):
    id: int
    name: str
    description: str
    disabled: bool
    created_at: datetime
    projects: list[str] = Field(default_factory=list, description="Projects the agent may act in.")


class MembershipSet(Model):
    role: Role = Role.MEMBER


class Membership(ResponseModel):
    """A principal's role in a project."""

    project: str
    principal_kind: Literal["user", "agent"]
    principal_id: int
    principal_name: str
    role: Role
