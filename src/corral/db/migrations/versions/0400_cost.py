"""Cost control: budgets, counters, reservations, alerts; providers.

Revision ID: 0400
Revises: 0300
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0400"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("holds", corral.db.types.JsonValue, nullable=False),
        sa.Column("estimated_nano_usd", sa.BigInteger(), nullable=False),
        sa.Column("estimated_tokens", sa.BigInteger(), nullable=False),
        sa.Column("charged_nano_usd", sa.BigInteger(), nullable=True),
        sa.Column("charged_tokens", sa.BigInteger(), nullable=True),
        sa.Column("context", corral.db.types.JsonValue, nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("settled_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_reservations")),
    )
    with op.batch_alter_table("budget_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_budget_reservations_status_expires_at"),
            ["status", "expires_at"],
            unique=False,
        )

    op.create_table(
        "providers",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("models", corral.db.types.JsonValue, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_providers_name")),
    )
    op.create_table(
        "budgets",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=True),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("limit_units", sa.BigInteger(), nullable=False),
        sa.Column("window", sa.String(length=8), nullable=False),
        sa.Column("rolling_hours", sa.Integer(), nullable=True),
        sa.Column("thresholds", corral.db.types.JsonValue, nullable=False),
        sa.Column("enforce", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_budgets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
    )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budgets_project_id"), ["project_id"], unique=False)

    op.create_table(
        "budget_alerts",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("budget_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("subject_key", sa.String(length=320), nullable=False),
        sa.Column("window_start", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("spent_units", sa.BigInteger(), nullable=False),
        sa.Column("limit_units", sa.BigInteger(), nullable=False),
        sa.Column("fired_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name=op.f("fk_budget_alerts_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alerts")),
        sa.UniqueConstraint(
            "budget_id",
            "subject_key",
            "window_start",
            "threshold",
            name=op.f("uq_budget_alerts_budget_id_subject_key_window_start_threshold"),
        ),
    )
    with op.batch_alter_table("budget_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_alerts_fired_at"), ["fired_at"], unique=False)

    op.create_table(
        "budget_counters",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("budget_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("subject_key", sa.String(length=320), nullable=False),
        sa.Column("bucket_start", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name=op.f("fk_budget_counters_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_counters")),
        sa.UniqueConstraint(
            "budget_id",
            "subject_key",
            "bucket_start",
            name=op.f("uq_budget_counters_budget_id_subject_key_bucket_start"),
        ),
    )


def downgrade() -> None:
    op.drop_table("budget_counters")
    with op.batch_alter_table("budget_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_alerts_fired_at"))

    op.drop_table("budget_alerts")
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budgets_project_id"))

    op.drop_table("budgets")
    op.drop_table("providers")
    with op.batch_alter_table("budget_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_reservations_status_expires_at"))

    op.drop_table("budget_reservations")
