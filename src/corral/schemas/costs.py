"""Cost attribution reports."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from corral.schemas.common import ResponseModel

CostDimension = Literal["project", "agent", "user", "model", "provider", "day", "session"]


class CostRow(ResponseModel):
    """Spend of one group. Only the dimensions grouped by are set."""

    project: str | None = None
    agent: str | None = None
    user: str | None = None
    model: str | None = None
    provider: str | None = None
    day: date | None = None
    session: str | None = None
    calls: int
    errors: int = 0
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float


class CostReport(ResponseModel):
    group_by: list[CostDimension]
    since: date
    until: date = Field(description="Inclusive.")
    rows: list[CostRow] = Field(description="Most expensive first.")
    total_usd: float
    total_calls: int
