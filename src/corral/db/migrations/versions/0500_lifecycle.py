"""Lifecycle: agent versions, deployments, session assignments, rollouts; version budgets.

Revision ID: 0500
Revises: 0400
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0500"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_versions",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("agent_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("config", corral.db.types.JsonValue, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("base_number", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("state_changed_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_versions_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_versions")),
        sa.UniqueConstraint("agent_id", "number", name=op.f("uq_agent_versions_agent_id_number")),
    )
    with op.batch_alter_table("agent_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_versions_agent_id_content_hash"),
            ["agent_id", "content_hash"],
            unique=False,
        )

    op.create_table(
        "deployments",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("agent_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("active_version_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("canary_version_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("canary_weight", sa.Float(), nullable=False),
        sa.Column("previous_version_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("updated_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["active_version_id"],
            ["agent_versions.id"],
            name=op.f("fk_deployments_active_version_id_agent_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_deployments_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["canary_version_id"],
            ["agent_versions.id"],
            name=op.f("fk_deployments_canary_version_id_agent_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["previous_version_id"],
            ["agent_versions.id"],
            name=op.f("fk_deployments_previous_version_id_agent_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint(
            "agent_id", "environment", name=op.f("uq_deployments_agent_id_environment")
        ),
    )
    op.create_table(
        "rollouts",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("agent_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("version_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("stable_version_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("steps", corral.db.types.JsonValue, nullable=False),
        sa.Column("analysis", corral.db.types.JsonValue, nullable=False),
        sa.Column("results", corral.db.types.JsonValue, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_rollouts_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stable_version_id"],
            ["agent_versions.id"],
            name=op.f("fk_rollouts_stable_version_id_agent_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["agent_versions.id"],
            name=op.f("fk_rollouts_version_id_agent_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
    )
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rollouts_agent_id_environment"),
            ["agent_id", "environment"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_rollouts_status"), ["status"], unique=False)

    op.create_table(
        "session_assignments",
        sa.Column("agent_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("session_id", sa.String(length=256), nullable=False),
        sa.Column("version_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("canary", sa.Boolean(), nullable=False),
        sa.Column("assigned_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_session_assignments_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["agent_versions.id"],
            name=op.f("fk_session_assignments_version_id_agent_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "agent_id", "environment", "session_id", name=op.f("pk_session_assignments")
        ),
    )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_version_id", corral.db.types.BigIntPK, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_budgets_agent_version_id"), ["agent_version_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_budgets_agent_version_id_agent_versions"),
            "agent_versions",
            ["agent_version_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_budgets_agent_version_id_agent_versions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_budgets_agent_version_id"))
        batch_op.drop_column("agent_version_id")

    op.drop_table("session_assignments")
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollouts_status"))
        batch_op.drop_index(batch_op.f("ix_rollouts_agent_id_environment"))

    op.drop_table("rollouts")
    op.drop_table("deployments")
    with op.batch_alter_table("agent_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_versions_agent_id_content_hash"))

    op.drop_table("agent_versions")
