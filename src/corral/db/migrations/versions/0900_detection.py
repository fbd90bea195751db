"""Detection: findings, detector settings, session halts.

Revision ID: 0900
Revises: 0800
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0900"
down_revision: str | None = "0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "detector_settings",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=False),
        sa.Column("overrides", corral.db.types.JsonValue, nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column("updated_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_detector_settings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detector_settings")),
    )
    with op.batch_alter_table("detector_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_detector_settings_project_id_agent_name"),
            ["project_id", "agent_name"],
            unique=True,
        )

    op.create_table(
        "findings",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("scope", sa.String(length=250), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("step_span_id", sa.String(length=16), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("span_ids", corral.db.types.JsonValue, nullable=False),
        sa.Column("wasted_tokens", sa.BigInteger(), nullable=False),
        sa.Column("wasted_cost_usd", sa.Float(), nullable=False),
        sa.Column("details", corral.db.types.JsonValue, nullable=False),
        sa.Column("first_detected_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=320), nullable=True),
        sa.Column("acknowledged_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=320), nullable=True),
        sa.Column("resolved_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_findings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_findings_project_id_first_detected_at"),
            ["project_id", "first_detected_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_findings_project_id_scope_key"),
            ["project_id", "scope", "key"],
            unique=True,
        )

    op.create_table(
        "session_halts",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("session_id", sa.String(length=200), nullable=False),
        sa.Column("finding_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("finding_type", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("halted_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("resumed_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.Column("resumed_by", sa.String(length=320), nullable=True),
        sa.Column("resume_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_session_halts_finding_id_findings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_session_halts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_halts")),
    )
    with op.batch_alter_table("session_halts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_halts_finding_id"), ["finding_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_session_halts_project_id_halted_at"),
            ["project_id", "halted_at"],
            unique=False,
        )
        batch_op.create_index(
            "uq_session_halts_active",
            ["project_id", "session_id"],
            unique=True,
            sqlite_where=sa.text("resumed_at IS NULL"),
            postgresql_where=sa.text("resumed_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("session_halts", schema=None) as batch_op:
        batch_op.drop_index("uq_session_halts_active")
        batch_op.drop_index(batch_op.f("ix_session_halts_project_id_halted_at"))
        batch_op.drop_index(batch_op.f("ix_session_halts_finding_id"))

    op.drop_table("session_halts")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_project_id_scope_key"))
        batch_op.drop_index(batch_op.f("ix_findings_project_id_first_detected_at"))

    op.drop_table("findings")
    with op.batch_alter_table("detector_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detector_settings_project_id_agent_name"))

    op.drop_table("detector_settings")
