"""Observability: spans as immutable wide rows, and per-trace and per-session rollups.

A span row carries the trace-level facts (project, agent, session, user) itself, so the lists and
dashboards filter one table without joins. The rollups are kept up to date at ingest, one upsert
per batch, so the trace and session lists never aggregate spans at read time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from corral.db.schema.base import Base
from corral.db.types import BigIntPK, JsonValue, UtcDateTime


class SpanRow(Base):
    """One OpenTelemetry span, normalized. Never updated after insert."""

    __tablename__ = "spans"
    __table_args__ = (
        # Deduplicates retried exports, and serves the trace tree (project, trace).
        Index(None, "project_id", "trace_id", "span_id", unique=True),
        Index(None, "project_id", "session_id", "start_time"),
        Index(None, "project_id", "start_time"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(512))
    kind: Mapped[int] = mapped_column(Integer)
    span_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8))
    error_message: Mapped[str | None] = mapped_column(Text)
    start_time: Mapped[datetime] = mapped_column(UtcDateTime)
    end_time: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    service_name: Mapped[str | None] = mapped_column(String(200))
    agent_id: Mapped[str | None] = mapped_column(String(200))
    agent_name: Mapped[str | None] = mapped_column(String(200))
    agent_version: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int | None] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    price_version: Mapped[str | None] = mapped_column(String(100))
    tool_name: Mapped[str | None] = mapped_column(String(200))
    tool_arguments: Mapped[str | None] = mapped_column(Text)
    tool_result: Mapped[str | None] = mapped_column(Text)
    input_text: Mapped[str | None] = mapped_column(Text)
    output_text: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    events: Mapped[list[Any] | None] = mapped_column(JsonValue)
    resource: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TraceRow(Base):
    """What the trace list shows, kept up to date as the trace's spans arrive."""

    __tablename__ = "traces"
    __table_args__ = (
        Index(None, "project_id", "trace_id", unique=True),
        Index(None, "project_id", "start_time", "trace_id"),
        Index(None, "project_id", "session_id", "start_time"),
        Index(None, "project_id", "agent_name", "start_time"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    trace_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(512))
    root_span_id: Mapped[str | None] = mapped_column(String(16))
    start_time: Mapped[datetime] = mapped_column(UtcDateTime)
    end_time: Mapped[datetime] = mapped_column(UtcDateTime)
    agent_name: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(200))
    span_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    llm_calls: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[float] = mapped_column(Float)


class SessionRow(Base):
    """One session (a run or conversation of an agent), rolled up from its spans."""

    __tablename__ = "trace_sessions"
    __table_args__ = (
        Index(None, "project_id", "session_id", unique=True),
        Index(None, "project_id", "last_seen", "session_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(200))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    agent_name: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(200))
    span_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    llm_calls: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[float] = mapped_column(Float)


class AgentActivityRow(Base):
    """When each agent was last seen in a project, from any span it produced (not only the traces
    it led), so that "last activity" never scans spans."""

    __tablename__ = "agent_activity"
    __table_args__ = (UniqueConstraint("project_id", "agent_name"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    agent_name: Mapped[str] = mapped_column(String(200))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    span_count: Mapped[int] = mapped_column(BigInteger)
