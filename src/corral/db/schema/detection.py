"""Silent-failure detection: findings, detector settings and the circuit breaker's halts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from corral.db.schema.base import Base
from corral.db.types import BigIntPK, JsonValue, UtcDateTime


class FindingRow(Base):
    """One detected failure. ``scope`` is the session id (or ``trace:<id>`` for spans without a
    session) and ``key`` names the incident within it, so detecting it again as the session grows
    updates this row instead of adding one."""

    __tablename__ = "findings"
    __table_args__ = (
        Index(None, "project_id", "scope", "key", unique=True),
        Index(None, "project_id", "first_detected_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(250))
    key: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16))
    agent_name: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[int | None] = mapped_column(Integer)
    step_span_id: Mapped[str | None] = mapped_column(String(16))
    explanation: Mapped[str] = mapped_column(Text)
    span_ids: Mapped[list[str]] = mapped_column(JsonValue)
    wasted_tokens: Mapped[int] = mapped_column(BigInteger)
    wasted_cost_usd: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    first_detected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DetectorSettingsRow(Base):
    """Detector settings a project (``agent_name`` empty) or one of its agents overrides."""

    __tablename__ = "detector_settings"
    __table_args__ = (Index(None, "project_id", "agent_name", unique=True),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    agent_name: Mapped[str] = mapped_column(String(200))
    overrides: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionHaltRow(Base):
    """A session the circuit breaker stopped; active while ``resumed_at`` is NULL (at most one
    active halt per session, which the partial unique index enforces across replicas)."""

    __tablename__ = "session_halts"
    __table_args__ = (
        Index(
            "uq_session_halts_active",
            "project_id",
            "session_id",
            unique=True,
            sqlite_where=text("resumed_at IS NULL"),
            postgresql_where=text("resumed_at IS NULL"),
        ),
        Index(None, "project_id", "halted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(200))
    finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("findings.id", ondelete="SET NULL"), index=True
    )
    finding_type: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    halted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resumed_by: Mapped[str | None] = mapped_column(String(320))
    resume_note: Mapped[str | None] = mapped_column(Text)
