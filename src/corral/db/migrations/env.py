"""Alembic environment: runs on the connection handed over by ``corral.db.migrate``."""

from alembic import context

from corral.db.memory_search import include_name
from corral.db.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
