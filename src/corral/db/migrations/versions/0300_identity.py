"""Identity: console sessions, invites, login attempts, tool policies, audit checkpoints.

Revision ID: 0300
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0300"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_checkpoints_seq")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_attempts_address_attempted_at"),
            ["address", "attempted_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_login_attempts_email_attempted_at"),
            ["email", "attempted_at"],
            unique=False,
        )

    op.create_table(
        "tool_policies",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("agent_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("rules", corral.db.types.JsonValue, nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_tool_policies_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_policies")),
        sa.UniqueConstraint("agent_id", "version", name=op.f("uq_tool_policies_agent_id_version")),
    )
    op.create_table(
        "user_invites",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("created_by_user_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("used_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_user_invites_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_invites_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_invites_token_hash")),
    )
    with op.batch_alter_table("user_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_invites_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_sessions",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("revoked_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))

    op.drop_table("user_sessions")
    with op.batch_alter_table("user_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_invites_user_id"))

    op.drop_table("user_invites")
    op.drop_table("tool_policies")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_email_attempted_at"))
        batch_op.drop_index(batch_op.f("ix_login_attempts_address_attempted_at"))

    op.drop_table("login_attempts")
    op.drop_table("audit_checkpoints")
