from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from corral.db import Database, migrate
from corral.db.memory_search import include_name
from corral.db.migrate import _config
from corral.db.schema import Base
from tests.conftest import PostgresServer


@pytest.fixture
def empty_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    if backend == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'walk.db'}")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return Database(server.create_database(f"_walk_{tmp_path.name[-12:].lower()}"))


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_every_migration_walks_up_and_down(empty_db: Database) -> None:
    steps = revisions()
    assert steps[-1] == migrate.head_revision()
    for revision in steps:
        migrate.upgrade(empty_db, revision)
        assert migrate.current_revision(empty_db) == revision
    for previous in [*reversed(steps[:-1]), "base"]:
        migrate.downgrade(empty_db, previous)
        assert migrate.current_revision(empty_db) == (None if previous == "base" else previous)
    leftover = set(inspect(empty_db.engine).get_table_names()) - {"alembic_version"}
    assert leftover == set()
    migrate.upgrade(empty_db)
    assert migrate.current_revision(empty_db) == migrate.head_revision()
    empty_db.dispose()


def test_migrations_build_exactly_the_declared_schema(empty_db: Database) -> None:
    migrate.upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, Base.metadata)
    empty_db.dispose()
    assert diff == [], f"schema.py and the migrations disagree: {diff}"


def test_upgrade_twice_is_a_no_op(empty_db: Database) -> None:
    migrate.upgrade(empty_db)
    migrate.upgrade(empty_db)
    assert migrate.current_revision(empty_db) == migrate.head_revision()
    empty_db.dispose()
