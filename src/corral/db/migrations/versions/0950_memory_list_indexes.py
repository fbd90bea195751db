"""Memory: indexes for listing pinned items and superseded or expired items.

Revision ID: 0950
Revises: 0900
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0950"
down_revision: str | None = "0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENDED = sa.text("valid_to IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("memory_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memory_items_project_id_pinned_id"),
            ["project_id", "pinned", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_memory_items_project_id_id_ended",
            ["project_id", "id"],
            unique=False,
            sqlite_where=ENDED,
            postgresql_where=ENDED,
        )


def downgrade() -> None:
    with op.batch_alter_table("memory_items", schema=None) as batch_op:
        batch_op.drop_index("ix_memory_items_project_id_id_ended")
        batch_op.drop_index(batch_op.f("ix_memory_items_project_id_pinned_id"))
