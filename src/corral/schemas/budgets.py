"""Budgets, their usage, reservations and threshold alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from corral.schemas.common import Model, ResponseModel

BudgetScope = Literal["workspace", "project", "agent", "user", "session", "trace"]
BudgetUnit = Literal["usd", "tokens"]
BudgetWindow = Literal["total", "day", "month", "rolling"]


class BudgetCreate(Model):
    """A limit on spend. ``scope`` says whose calls count; ``subject`` names one agent, user,
    session or trace — or, left out for those scopes, applies the limit to EACH of them
    separately ("every session may spend $1")."""

    name: str = Field(min_length=1, max_length=200)
    scope: BudgetScope
    subject: str | None = Field(default=None, max_length=320)
    project: str | None = Field(
        default=None, description="Count only calls in this project (required for scope project)."
    )
    unit: BudgetUnit = "usd"
    limit: float = Field(gt=0, le=1e12)
    window: BudgetWindow = "month"
    rolling_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    thresholds: list[int] = Field(
        default_factory=lambda: [50, 80, 100],
        description="Percentages of the limit that raise an alert, once per window each.",
    )
    enforce: bool = Field(default=True, description="Refuse calls past the limit (hard limit).")

    @model_validator(mode="after")
    def _consistent(self) -> BudgetCreate:
        if (self.window == "rolling") != (self.rolling_hours is not None):
            raise ValueError("rolling_hours is required for, and only for, window 'rolling'")
        if self.scope == "project" and not self.project:
            raise ValueError("a project budget needs 'project'")
        if self.scope in ("workspace", "project") and self.subject is not None:
            raise ValueError(f"a {self.scope} budget takes no 'subject'")
        if any(not 1 <= t <= 1000 for t in self.thresholds) or len(set(self.thresholds)) != len(
            self.thresholds
        ):
            raise ValueError("thresholds are distinct percentages between 1 and 1000")
        return self


class BudgetUpdate(Model):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    limit: float | None = Field(default=None, gt=0, le=1e12)
    thresholds: list[int] | None = None
    enforce: bool | None = None
    disabled: bool | None = None


class Budget(ResponseModel):
    id: int
    name: str
    scope: BudgetScope
    subject: str | None
    project: str | None
    unit: BudgetUnit
    limit: float
    window: BudgetWindow
    rolling_hours: int | None
    thresholds: list[int]
    enforce: bool
    disabled: bool
    created_by: str
    created_at: datetime


class BudgetUsage(ResponseModel):
    """Consumption of one budget for one subject in the current window."""

    budget_id: int
    budget: str
    subject: str | None = Field(
        description="The agent, user, session or trace, for 'each' budgets."
    )
    unit: BudgetUnit
    limit: float
    spent: float
    reserved: float
    remaining: float
    percent: float
    window_start: datetime | None
    resets_at: datetime | None


class BudgetAlert(ResponseModel):
    id: int
    budget_id: int
    budget: str
    subject: str | None
    threshold: int
    window_start: datetime
    spent: float
    limit: float
    unit: BudgetUnit
    fired_at: datetime


class ReservationRequest(Model):
    """Hold the worst-case cost of a call before making it (for agents that call providers
    themselves; the gateway does this on its own)."""

    project: str
    model: str = Field(min_length=1, max_length=200)
    provider: str | None = None
    prompt: str | None = Field(default=None, description="Text sent to the model, to count tokens.")
    prompt_tokens: int | None = Field(default=None, ge=0, description="Or its token count.")
    max_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    agent: str | None = None
    user: str | None = None
    session: str | None = None
    trace: str | None = None


class UsageReport(Model):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)


class Reservation(ResponseModel):
    id: str
    status: Literal["held", "settled", "released", "expired"]
    estimated_usd: float
    estimated_tokens: int
    budgets: list[int] = Field(description="Ids of the budgets the hold was placed on.")
    expires_at: datetime
    charged_usd: float | None = None
    charged_tokens: int | None = None
