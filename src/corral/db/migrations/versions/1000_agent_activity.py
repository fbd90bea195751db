"""When each agent was last seen in a project, filled from the spans already stored.

Revision ID: 1000
Revises: 0950
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "1000"
down_revision: str | None = "0950"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_activity",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=False),
        sa.Column("first_seen", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("last_seen", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("span_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_agent_activity_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_activity")),
        sa.UniqueConstraint(
            "project_id", "agent_name", name=op.f("uq_agent_activity_project_id_agent_name")
        ),
    )
    op.execute(
        "INSERT INTO agent_activity (project_id, agent_name, first_seen, last_seen, span_count) "
        "SELECT project_id, agent_name, MIN(start_time), MAX(end_time), COUNT(*) FROM spans "
        "WHERE agent_name IS NOT NULL GROUP BY project_id, agent_name"
    )


def downgrade() -> None:
    op.drop_table("agent_activity")
