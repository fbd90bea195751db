"""Observability: spans, trace and session rollups.

Revision ID: 0700
Revises: 0600
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0700"
down_revision: str | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spans",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("span_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("start_time", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("end_time", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=True),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("agent_version", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=True),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("price_version", sa.String(length=100), nullable=True),
        sa.Column("tool_name", sa.String(length=200), nullable=True),
        sa.Column("tool_arguments", sa.Text(), nullable=True),
        sa.Column("tool_result", sa.Text(), nullable=True),
        sa.Column("input_text", sa.Text(), nullable=True),
        sa.Column("output_text", sa.Text(), nullable=True),
        sa.Column("attributes", corral.db.types.JsonValue, nullable=False),
        sa.Column("events", corral.db.types.JsonValue, nullable=True),
        sa.Column("resource", corral.db.types.JsonValue, nullable=True),
        sa.Column("received_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_spans_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spans")),
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spans_project_id_session_id_start_time"),
            ["project_id", "session_id", "start_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_spans_project_id_start_time"), ["project_id", "start_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_spans_project_id_trace_id_span_id"),
            ["project_id", "trace_id", "span_id"],
            unique=True,
        )

    op.create_table(
        "trace_sessions",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("first_seen", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("last_seen", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("llm_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_trace_sessions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_sessions")),
    )
    with op.batch_alter_table("trace_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trace_sessions_project_id_last_seen_session_id"),
            ["project_id", "last_seen", "session_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_trace_sessions_project_id_session_id"),
            ["project_id", "session_id"],
            unique=True,
        )

    op.create_table(
        "traces",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("root_span_id", sa.String(length=16), nullable=True),
        sa.Column("start_time", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("end_time", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("llm_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_traces_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
    )
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_traces_project_id_agent_name_start_time"),
            ["project_id", "agent_name", "start_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_traces_project_id_session_id_start_time"),
            ["project_id", "session_id", "start_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_traces_project_id_start_time_trace_id"),
            ["project_id", "start_time", "trace_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_traces_project_id_trace_id"), ["project_id", "trace_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traces_project_id_trace_id"))
        batch_op.drop_index(batch_op.f("ix_traces_project_id_start_time_trace_id"))
        batch_op.drop_index(batch_op.f("ix_traces_project_id_session_id_start_time"))
        batch_op.drop_index(batch_op.f("ix_traces_project_id_agent_name_start_time"))

    op.drop_table("traces")
    with op.batch_alter_table("trace_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trace_sessions_project_id_session_id"))
        batch_op.drop_index(batch_op.f("ix_trace_sessions_project_id_last_seen_session_id"))

    op.drop_table("trace_sessions")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spans_project_id_trace_id_span_id"))
        batch_op.drop_index(batch_op.f("ix_spans_project_id_start_time"))
        batch_op.drop_index(batch_op.f("ix_spans_project_id_session_id_start_time"))

    op.drop_table("spans")
