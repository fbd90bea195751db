"""``corral keys``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json
from corral.schemas.access import Permission

COLUMNS = [
    "id",
    "name",
    "owner_kind",
    "owner_name",
    "projects",
    "permissions",
    "expires_at",
    "last_used_at",
    "revoked_at",
]


@click.group()
def keys() -> None:
    """API keys: create (shown once), list and revoke."""


@keys.command()
@click.argument("name")
@click.option("--agent", help="Create the key for this agent.")
@click.option("--user-id", type=int, help="Create the key for this user (workspace admins).")
@click.option("--project", "projects", multiple=True, help="Limit to a project (repeatable).")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=click.Choice([p.value for p in Permission]),
    help="Limit to a permission (repeatable).",
)
@click.option("--expires-in-days", type=float, help="Expire the key after this many days.")
@json_option
@pass_state
def create(
    state: CliState,
    name: str,
    agent: str | None,
    user_id: int | None,
    projects: tuple[str, ...],
    permissions: tuple[str, ...],
    expires_in_days: float | None,
    as_json: bool,
) -> None:
    """Create an API key NAME. The key is printed once and cannot be shown again."""
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    with state.client() as client:
        created = client.keys.create(
            name,
            agent=agent,
            user_id=user_id,
            projects=list(projects) or None,
            permissions=list(permissions) or None,
            expires_at=expires_at,
        )
    if as_json:
        print_json(created)
        return
    emit(created, as_json=False, columns=COLUMNS[:6])
    console.print("\nThe key (shown only now):\n")
    click.echo(created.secret)


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@json_option
@pass_state
def list_(state: CliState, include_revoked: bool, as_json: bool) -> None:
    """Keys you manage."""
    with state.client() as client:
        columns = [*COLUMNS, "revoked_at"] if include_revoked else COLUMNS
        emit(client.keys.list(include_revoked=include_revoked), as_json=as_json, columns=columns)


@keys.command()
@click.argument("key_id")
@json_option
@pass_state
def revoke(state: CliState, key_id: str, as_json: bool) -> None:
    """Revoke the key KEY_ID (the id column of `corral keys list`); it stops working at once."""
    with state.client() as client:
        emit(client.keys.revoke(key_id), as_json=as_json, columns=[*COLUMNS, "revoked_at"])
