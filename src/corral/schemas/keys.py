"""API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from corral.schemas.access import Permission
from corral.schemas.common import Model, ResponseModel


class ApiKeyCreate(Model):
    name: str = Field(min_length=1, max_length=200, examples=["ci ingest"])
    agent: str | None = Field(
        default=None, description="Create the key for this agent; omit to create it for yourself."
    )
    user_id: int | None = Field(
        default=None, description="Create the key for another user (workspace admins only)."
    )
    projects: list[str] | None = Field(
        default=None,
        description=(
            "Project names the key is limited to; null reaches every project its owner can."
        ),
    )
    permissions: list[Permission] | None = Field(
        default=None,
        description="Permissions the key is limited to; null keeps all of its owner's permissions.",
    )
    expires_at: datetime | None = None


class ApiKey(ResponseModel):
    id: str = Field(description="The public part of the key; the secret is never returned again.")
    name: str
    prefix: str = Field(description="How the key starts, to recognise it.")
    owner_kind: Literal["user", "agent"]
    owner_id: int
    owner_name: str
    projects: list[str] | None
    permissions: list[Permission] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKey):
    secret: str = Field(description="The full key. It is shown only in this response.")
