"""``corral db``: migrations and recovery, run against the database directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from corral.cli.output import console

if TYPE_CHECKING:
    from corral.core.runtime import Runtime


@contextmanager
def _runtime() -> Iterator[Runtime]:
    from corral.core.runtime import Runtime
    from corral.settings import Settings

    rt = Runtime.from_settings(Settings())
    try:
        yield rt
    finally:
        rt.db.dispose()


@click.group()
def db() -> None:
    """Manage the database named by CORRAL_DATABASE_URL (or the local SQLite file)."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply pending migrations."""
    from corral.db import migrate

    with _runtime() as rt:
        before = migrate.current_revision(rt.db)
        migrate.upgrade(rt.db, revision)
        after = migrate.current_revision(rt.db)
    console.print(f"Database {rt.db}: {before or 'empty'} -> {after}")


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def downgrade(revision: str, yes: bool) -> None:
    """Migrate down to REVISION ('base' drops every table: all data is lost)."""
    from corral.db import migrate

    if not yes:
        click.confirm(
            f"Downgrade the database to {revision}? Data in newer tables is lost", abort=True
        )
    with _runtime() as rt:
        migrate.downgrade(rt.db, revision)
        console.print(f"Database {rt.db} is at {migrate.current_revision(rt.db) or 'base'}")


@db.command()
def current() -> None:
    """Print the schema revision of the database and the newest one this version ships."""
    from corral.db import migrate

    with _runtime() as rt:
        console.print(f"database: {rt.db}")
        console.print(f"current:  {migrate.current_revision(rt.db) or 'empty'}")
        console.print(f"head:     {migrate.head_revision()}")


@db.command("admin-key")
@click.option("--name", default="recovered admin key", show_default=True, help="Key name.")
def admin_key(name: str) -> None:
    """Create a new workspace-admin API key directly in the database (for a lost key)."""
    from corral.core.keys import issue_admin_key

    with _runtime() as rt:
        token = issue_admin_key(rt, name=name)
    click.echo(token)
