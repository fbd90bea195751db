"""Daily cost rollups for attribution reports.

Revision ID: 0760
Revises: 0750
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0760"
down_revision: str | None = "0750"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cost_daily",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_cost_daily_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_daily")),
        sa.UniqueConstraint(
            "project_id",
            "day",
            "agent",
            "user_id",
            "model",
            "provider",
            name=op.f("uq_cost_daily_project_id_day_agent_user_id_model_provider"),
        ),
    )
    with op.batch_alter_table("cost_daily", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cost_daily_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cost_daily", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cost_daily_day"))

    op.drop_table("cost_daily")
