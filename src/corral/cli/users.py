"""``corral users``."""

from __future__ import annotations

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import emit, json_option

COLUMNS = ["id", "email", "name", "workspace_admin", "disabled", "created_at"]


@click.group()
def users() -> None:
    """People: accounts, workspace administrators, disabling."""


@users.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Users (all of them for workspace admins)."""
    with state.client() as client:
        emit(client.users.list(), as_json=as_json, columns=COLUMNS)


@users.command()
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--admin", is_flag=True, help="Make the user a workspace administrator.")
@json_option
@pass_state
def create(state: CliState, email: str, name: str, admin: bool, as_json: bool) -> None:
    """Create a user (workspace admins)."""
    with state.client() as client:
        emit(
            client.users.create(email, name=name, workspace_admin=admin),
            as_json=as_json,
            columns=COLUMNS,
        )


@users.command()
@click.argument("user_id", type=int)
@click.option("--name", help="New display name.")
@click.option("--admin/--no-admin", default=None, help="Grant or remove workspace admin.")
@click.option("--disable/--enable", "disabled", default=None, help="Block or restore the user.")
@json_option
@pass_state
def update(
    state: CliState,
    user_id: int,
    name: str | None,
    admin: bool | None,
    disabled: bool | None,
    as_json: bool,
) -> None:
    """Rename, promote, demote, disable or enable a user."""
    with state.client() as client:
        user = client.users.update(user_id, name=name, workspace_admin=admin, disabled=disabled)
        emit(user, as_json=as_json, columns=COLUMNS)
