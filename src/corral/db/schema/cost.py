"""Cost control: budgets, their counters, reservations, threshold alerts; upstream providers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from corral.db.schema.base import Base
from corral.db.types import BigIntPK, JsonValue, UtcDateTime


class BudgetRow(Base):
    """A spending limit. Amounts are integers: nano-dollars for ``usd``, tokens for ``tokens``."""

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(320))
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    agent_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_versions.id", ondelete="CASCADE"), index=True
    )
    unit: Mapped[str] = mapped_column(String(8))
    limit_units: Mapped[int] = mapped_column(BigInteger)
    window: Mapped[str] = mapped_column(String(8))
    rolling_hours: Mapped[int | None] = mapped_column(Integer)
    thresholds: Mapped[list[int]] = mapped_column(JsonValue)
    enforce: Mapped[bool] = mapped_column(Boolean)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BudgetCounterRow(Base):
    """Spent and reserved amounts of one budget, for one subject, in one bucket (a calendar day
    or month, an hour of a rolling window, or all time). Reservations lock these rows."""

    __tablename__ = "budget_counters"
    __table_args__ = (UniqueConstraint("budget_id", "subject_key", "bucket_start"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"))
    subject_key: Mapped[str] = mapped_column(String(320))
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)


class BudgetReservationRow(Base):
    """The worst-case amount held on every budget that applies to one call, until the call is
    settled with its real usage, released (it failed) or expires (counted as spent)."""

    __tablename__ = "budget_reservations"
    __table_args__ = (Index(None, "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    holds: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    estimated_nano_usd: Mapped[int] = mapped_column(BigInteger)
    estimated_tokens: Mapped[int] = mapped_column(BigInteger)
    charged_nano_usd: Mapped[int | None] = mapped_column(BigInteger)
    charged_tokens: Mapped[int | None] = mapped_column(BigInteger)
    context: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BudgetAlertRow(Base):
    """A soft threshold crossed; unique per budget, subject, window and threshold, so each
    fires once per window."""

    __tablename__ = "budget_alerts"
    __table_args__ = (
        UniqueConstraint("budget_id", "subject_key", "window_start", "threshold"),
        Index(None, "fired_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"))
    subject_key: Mapped[str] = mapped_column(String(320))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    threshold: Mapped[int] = mapped_column(Integer)
    spent_units: Mapped[int] = mapped_column(BigInteger)
    limit_units: Mapped[int] = mapped_column(BigInteger)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProviderRow(Base):
    """An upstream LLM provider. The API key is stored encrypted and never returned."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str] = mapped_column(String(500))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    models: Mapped[list[str]] = mapped_column(JsonValue)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=120.0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PriceOverrideRow(Base):
    """A workspace's own price for models matching ``model`` (a glob), from ``effective_from``
    on (until ``effective_to``). Rates are USD per million tokens; unset cache and reasoning rates
    fall back to the input and output rates."""

    __tablename__ = "price_overrides"
    __table_args__ = (Index(None, "effective_from"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(63))
    input_per_mtok: Mapped[float] = mapped_column(Float)
    output_per_mtok: Mapped[float] = mapped_column(Float)
    cache_read_per_mtok: Mapped[float | None] = mapped_column(Float)
    cache_write_per_mtok: Mapped[float | None] = mapped_column(Float)
    reasoning_per_mtok: Mapped[float | None] = mapped_column(Float)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime)
    effective_to: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CostDailyRow(Base):
    """Spend per project, day (UTC), agent, user, model and provider: what cost reports read,
    so they stay fast at millions of calls. Folded in as spans are stored. Unknown values are
    empty strings (a NULL would defeat the unique key)."""

    __tablename__ = "cost_daily"
    __table_args__ = (
        UniqueConstraint("project_id", "day", "agent", "user_id", "model", "provider"),
        Index(None, "day"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    agent: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200))
    calls: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[float] = mapped_column(Float)
