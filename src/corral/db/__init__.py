"""Storage: engines, schema, migrations and the dialect-specific parts of queries.

This package is the only place that knows whether the database is SQLite or PostgreSQL.
"""

from corral.db.database import Database

__all__ = ["Database"]
