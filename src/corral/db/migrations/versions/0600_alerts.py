"""Alerts: incidents, rules, notifications and the webhook outbox.

Revision ID: 0600
Revises: 0500
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0600"
down_revision: str | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("kinds", corral.db.types.JsonValue, nullable=False),
        sa.Column("match", corral.db.types.JsonValue, nullable=False),
        sa.Column("metric", corral.db.types.JsonValue, nullable=True),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("renotify_minutes", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_alert_rules_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_rules_project_id"), ["project_id"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("details", corral.db.types.JsonValue, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("last_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("resolved_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_alerts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_alerts_kind_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_last_at"), ["last_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_project_id"), ["project_id"], unique=False)

    op.create_table(
        "alert_notifications",
        sa.Column("rule_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("alert_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("last_notified_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_notifications_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_alert_notifications_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "alert_id", name=op.f("pk_alert_notifications")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("rule_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("alert_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("payload", corral.db.types.JsonValue, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("delivered_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_webhook_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_webhook_deliveries_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_status_next_attempt_at"))

    op.drop_table("webhook_deliveries")
    op.drop_table("alert_notifications")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_project_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_last_at"))

    op.drop_table("alerts")
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_rules_project_id"))

    op.drop_table("alert_rules")
