"""Workspace price overrides and cost quotes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from corral.schemas.common import Model, ResponseModel


class PriceOverrideCreate(Model):
    """Your own price for models matching ``model`` (a glob such as ``my-finetune-*``)."""

    model: str = Field(min_length=1, max_length=200)
    provider: str | None = Field(default=None, max_length=63)
    input_per_mtok: float = Field(ge=0, description="USD per million input tokens.")
    output_per_mtok: float = Field(ge=0, description="USD per million output tokens.")
    cache_read_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)
    reasoning_per_mtok: float | None = Field(default=None, ge=0)
    effective_from: datetime | None = Field(default=None, description="Default: now.")
    effective_to: datetime | None = None
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> PriceOverrideCreate:
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self


class PriceOverride(ResponseModel):
    id: int
    model: str
    provider: str | None
    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None
    cache_write_per_mtok: float | None
    reasoning_per_mtok: float | None
    effective_from: datetime
    effective_to: datetime | None
    note: str
    created_by: str
    created_at: datetime


class PriceQuote(ResponseModel):
    model: str
    provider: str | None
    usd: float | None = Field(description="None when no price is known for the model.")
    price_version: str | None
