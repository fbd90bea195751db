"""Project memory: items, versions, briefs, search statistics, activity.

The full-text index is dialect-specific and not part of the declared schema: an external-content
FTS5 table kept in step by triggers on SQLite, a stored ``tsvector`` column with a GIN index on
PostgreSQL (see ``corral.db.memory_search``).

Revision ID: 0800
Revises: 0760
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import corral.db.types

revision: str = "0800"
down_revision: str | None = "0760"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory_activity",
        sa.Column("principal_kind", sa.String(length=16), nullable=False),
        sa.Column("principal_id", sa.BigInteger(), nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("last_active_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_memory_activity_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "principal_kind", "principal_id", "project_id", name=op.f("pk_memory_activity")
        ),
    )
    with op.batch_alter_table("memory_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memory_activity_principal_kind_principal_id_last_active_at"),
            ["principal_kind", "principal_id", "last_active_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_memory_activity_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "memory_briefs",
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("directory", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("updated_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_memory_briefs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_memory_briefs")),
    )
    op.create_table(
        "memory_items",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("tags", corral.db.types.JsonValue, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("session", sa.String(length=200), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("valid_from", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("valid_to", corral.db.types.UtcDateTime(), nullable=True),
        sa.Column("superseded_by", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("context_text", sa.Text(), nullable=False),
        sa.Column("term_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_memory_items_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_items")),
    )
    with op.batch_alter_table("memory_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memory_items_project_id_content_hash"),
            ["project_id", "content_hash"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_memory_items_project_id_key_valid_to"),
            ["project_id", "key", "valid_to"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_memory_items_project_id_kind_id"),
            ["project_id", "kind", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_memory_items_project_id_session_id"),
            ["project_id", "session", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_memory_items_project_id_id"),
            ["project_id", "id"],
            unique=False,
        )

    op.create_table(
        "memory_stats",
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("doc_count", sa.BigInteger(), nullable=False),
        sa.Column("total_terms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_memory_stats_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_memory_stats")),
    )
    op.create_table(
        "memory_terms",
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_memory_terms_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "term", name=op.f("pk_memory_terms")),
    )
    op.create_table(
        "memory_item_versions",
        sa.Column("id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("item_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("project_id", corral.db.types.BigIntPK, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", corral.db.types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("change", sa.String(length=32), nullable=False),
        sa.Column("snapshot", corral.db.types.JsonValue, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["memory_items.id"],
            name=op.f("fk_memory_item_versions_item_id_memory_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_memory_item_versions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_item_versions")),
        sa.UniqueConstraint(
            "item_id", "version", name=op.f("uq_memory_item_versions_item_id_version")
        ),
    )
    with op.batch_alter_table("memory_item_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memory_item_versions_project_id"), ["project_id"], unique=False
        )
    _create_search_index()


def downgrade() -> None:
    _drop_search_index()
    with op.batch_alter_table("memory_item_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_item_versions_project_id"))

    op.drop_table("memory_item_versions")
    op.drop_table("memory_terms")
    op.drop_table("memory_stats")
    with op.batch_alter_table("memory_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_items_project_id_id"))
        batch_op.drop_index(batch_op.f("ix_memory_items_project_id_session_id"))
        batch_op.drop_index(batch_op.f("ix_memory_items_project_id_kind_id"))
        batch_op.drop_index(batch_op.f("ix_memory_items_project_id_key_valid_to"))
        batch_op.drop_index(batch_op.f("ix_memory_items_project_id_content_hash"))

    op.drop_table("memory_items")
    op.drop_table("memory_briefs")
    with op.batch_alter_table("memory_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_activity_project_id"))
        batch_op.drop_index(
            batch_op.f("ix_memory_activity_principal_kind_principal_id_last_active_at")
        )

    op.drop_table("memory_activity")


_SQLITE_UP = [
    "CREATE VIRTUAL TABLE memory_fts USING fts5("
    "search_text, content='memory_items', content_rowid='id', tokenize='ascii', detail='none')",
    "CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory_items BEGIN "
    "INSERT INTO memory_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory_items BEGIN "
    "INSERT INTO memory_fts(memory_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER memory_fts_update AFTER UPDATE OF search_text ON memory_items BEGIN "
    "INSERT INTO memory_fts(memory_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO memory_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS memory_fts_update",
    "DROP TRIGGER IF EXISTS memory_fts_delete",
    "DROP TRIGGER IF EXISTS memory_fts_insert",
    "DROP TABLE IF EXISTS memory_fts",
]
_POSTGRES_UP = [
    "ALTER TABLE memory_items ADD COLUMN memory_fts_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED",
    "CREATE INDEX memory_fts_vector_gin ON memory_items USING gin (memory_fts_vector)",
]
_POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS memory_fts_vector_gin",
    "ALTER TABLE memory_items DROP COLUMN IF EXISTS memory_fts_vector",
]


def _create_search_index() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_UP if sqlite else _POSTGRES_UP:
        op.execute(statement)


def _drop_search_index() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_DOWN if sqlite else _POSTGRES_DOWN:
        op.execute(statement)
