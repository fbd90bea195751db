"""Agent lifecycle: immutable versions, deployments per environment, sticky session assignment,
and staged rollouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from corral.db.schema.base import Base
from corral.db.types import BigIntPK, JsonValue, UtcDateTime


class AgentVersionRow(Base):
    """One version of an agent. Only drafts change; from ``candidate`` on, ``config`` and
    ``content_hash`` are frozen and only ``state`` moves."""

    __tablename__ = "agent_versions"
    __table_args__ = (
        UniqueConstraint("agent_id", "number"),
        Index(None, "agent_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))
    content_hash: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    note: Mapped[str] = mapped_column(Text, default="")
    base_number: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeploymentRow(Base):
    """Which version an environment serves, and the canary beside it."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("agent_id", "environment"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    environment: Mapped[str] = mapped_column(String(63))
    active_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_versions.id", ondelete="SET NULL")
    )
    canary_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_versions.id", ondelete="SET NULL")
    )
    canary_weight: Mapped[float] = mapped_column(Float, default=0.0)
    previous_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_versions.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionAssignmentRow(Base):
    """The version a session was given on its first call; it keeps it for its whole life."""

    __tablename__ = "session_assignments"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("agent_versions.id", ondelete="CASCADE"))
    canary: Mapped[bool] = mapped_column(default=False)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RolloutRow(Base):
    """A staged rollout of a canary version, judged step by step against stable."""

    __tablename__ = "rollouts"
    __table_args__ = (Index(None, "status"), Index(None, "agent_id", "environment"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    environment: Mapped[str] = mapped_column(String(63))
    version_id: Mapped[int] = mapped_column(ForeignKey("agent_versions.id", ondelete="CASCADE"))
    stable_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_versions.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(12))
    step: Mapped[int] = mapped_column(Integer, default=0)
    step_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    analysis: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JsonValue)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
