"""Text search over span contents: a trigram index (see ``corral.db.span_search``).

SQLite: the FTS5 table starts empty with its watermark at 0; the ``span-search-index`` job fills
it in batches (spans stored before the upgrade included), and searches scan what it has not
reached yet. PostgreSQL: ``pg_trgm`` (a trusted extension: the database owner may create it) and
a GIN index on the four searched columns, built here for the spans already stored.

Revision ID: 1120
Revises: 1000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1120"
down_revision: str | None = "1000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = [
    "CREATE TABLE span_search_state (indexed_through INTEGER NOT NULL)",
    "INSERT INTO span_search_state (indexed_through) VALUES (0)",
    "CREATE VIRTUAL TABLE span_search USING fts5("
    "input_text, output_text, tool_arguments, tool_result, content='spans', content_rowid='id', "
    "tokenize='trigram', detail='none', columnsize=0)",
    # Indexed spans leave the index with the same values they went in with (spans are never
    # updated). When the newest spans go, SQLite reuses their ids: the watermark comes back to
    # the highest id left, so a reused id is indexed again rather than taken as done.
    "CREATE TRIGGER span_search_delete AFTER DELETE ON spans BEGIN "
    "INSERT INTO span_search (span_search, rowid, input_text, output_text, tool_arguments, "
    "tool_result) SELECT 'delete', old.id, old.input_text, old.output_text, old.tool_arguments, "
    "old.tool_result WHERE old.id <= (SELECT indexed_through FROM span_search_state); "
    "UPDATE span_search_state SET indexed_through = (SELECT coalesce(max(id), 0) FROM spans) "
    "WHERE indexed_through > (SELECT coalesce(max(id), 0) FROM spans); END",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS span_search_delete",
    "DROP TABLE IF EXISTS span_search",
    "DROP TABLE IF EXISTS span_search_state",
]
_POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX span_search_trgm ON spans USING gin (input_text gin_trgm_ops, "
    "output_text gin_trgm_ops, tool_arguments gin_trgm_ops, tool_result gin_trgm_ops)",
]
_POSTGRES_DOWN = ["DROP INDEX IF EXISTS span_search_trgm"]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_UP if sqlite else _POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_DOWN if sqlite else _POSTGRES_DOWN:
        op.execute(statement)
