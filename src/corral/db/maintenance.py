"""Planner statistics: kept fresh so that queries over fast-growing tables keep their plans.

PostgreSQL's autovacuum normally analyzes tables, but it may be off or lag behind an ingest of
millions of rows; SQLite never analyzes on its own. Without statistics a planner can prefer an
index that matches a query's ORDER BY and walk a whole table to find a few rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from corral.db.database import Database

SQLITE_ANALYSIS_LIMIT = 2000
"""Rows SQLite samples per index: approximate statistics, gathered in milliseconds."""


def refresh_statistics(db: Database, tables: Sequence[str]) -> None:
    """Gather planner statistics for ``tables``."""
    with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                connection.execute(text(f'ANALYZE "{table}"'))
        else:
            connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
            for table in tables:
                connection.exec_driver_sql(f'ANALYZE "{table}"')
        connection.commit()
