"""Foundation: workspace, projects, users, agents, memberships and API keys.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
    )
    op.create_table(
        "projects",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("last_active_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_projects_last_active_at"), ["last_active_at"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("workspace_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "workspace",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("agent_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("all_projects", sa.Boolean(), nullable=False),
        sa.Column("permissions", corral.db.types.JsonValue, nullable=True),
        sa.Column("created_by_user_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.Column("revoked_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.Column("last_used_at", corral.db.types.UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (agent_id IS NULL)", name=op.f("ck_api_keys_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_api_keys_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_api_keys_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_keys_public_id")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "project_members",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("user_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("agent_id", corral.db.types.BigIntPK, nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (agent_id IS NULL)", name=op.f("ck_project_members_one_principal")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_project_members_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_members_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_project_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_members")),
        sa.UniqueConstraint(
            "project_id", "agent_id", name=op.f("uq_project_members_project_id_agent_id")
        ),
        sa.UniqueConstraint(
            "project_id", "user_id", name=op.f("uq_project_members_project_id_user_id")
        ),
    )
    with op.batch_alter_table("project_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_members_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_project_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "api_key_projects",
        sa.Column("key_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_key_projects_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_api_key_projects_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", "project_id", name=op.f("pk_api_key_projects")),
    )
    with op.batch_alter_table("api_key_projects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_key_projects_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_projects_project_id"))

    op.drop_table("api_key_projects")
    with op.batch_alter_table("project_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_members_user_id"))
        batch_op.drop_index(batch_op.f("ix_project_members_agent_id"))

    op.drop_table("project_members")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_keys_agent_id"))

    op.drop_table("api_keys")
    op.drop_table("workspace")
    op.drop_table("users")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_last_active_at"))

    op.drop_table("projects")
    op.drop_table("agents")
