"""Upstream LLM providers the gateway forwards to."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from corral.schemas.common import Model, Name, ResponseModel

ProviderKind = Literal["openai", "anthropic"]


class ProviderCreate(Model):
    name: Name
    kind: ProviderKind = Field(description="The API the provider speaks.")
    base_url: str = Field(
        pattern=r"^https?://", max_length=500, examples=["https://api.openai.com/v1"]
    )
    api_key: str | None = Field(
        default=None, max_length=4000, description="Stored encrypted; never returned."
    )
    models: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Glob patterns of the model names this provider serves (gpt-*, claude-*).",
    )
    priority: int = Field(default=100, ge=0, le=10000, description="Lower is tried first.")
    timeout_seconds: float = Field(default=120, gt=0, le=3600)


class ProviderUpdate(Model):
    base_url: str | None = Field(default=None, pattern=r"^https?://", max_length=500)
    api_key: str | None = Field(default=None, max_length=4000)
    clear_api_key: bool = False
    models: list[str] | None = None
    priority: int | None = Field(default=None, ge=0, le=10000)
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600)
    disabled: bool | None = None


class Provider(ResponseModel):
    name: str
    kind: ProviderKind
    base_url: str
    models: list[str]
    priority: int
    timeout_seconds: float
    disabled: bool
    has_api_key: bool = Field(
        description="Whether a key is stored (the key itself never is shown)."
    )
    created_at: datetime
    updated_at: datetime
