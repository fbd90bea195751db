"""Apply and inspect schema migrations (Alembic, shipped inside the package)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from corral.db.database import Database

# Any constant works; it only has to be the same in every replica.
_MIGRATION_LOCK_ID = 0x636F7272616C  # "corral"

_Action = Callable[[Config], None]


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "corral.db:migrations")
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest revision shipped with this version of Corral."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate the database up to ``revision``.

    Replicas that start together must not migrate twice: PostgreSQL serialises them with an
    advisory lock, SQLite with ``BEGIN IMMEDIATE``. Each then sees the other's work and has
    nothing left to do.
    """
    _run(db, lambda config: command.upgrade(config, revision))


def downgrade(db: Database, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    _run(db, lambda config: command.downgrade(config, revision))


def _run(db: Database, action: _Action) -> None:
    engine = db.engine.execution_options(corral_write=True)
    with engine.begin() as connection:
        if db.dialect == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        action(_config(connection))
