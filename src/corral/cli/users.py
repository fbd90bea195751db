"""``corral users``."""

from __future__ import annotations

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json

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


@users.command()
@click.argument("user_id", type=int)
@click.option(
    "--valid-hours",
    type=float,
    default=72,
    show_default=True,
    help="How long the invitation works.",
)
@json_option
@pass_state
def invite(state: CliState, user_id: int, valid_hours: float, as_json: bool) -> None:
    """Create a one-time link with which USER_ID sets a console password."""
    with state.client() as client:
        created = client.users.invite(user_id, valid_hours=valid_hours)
        url = client.url
    if as_json:
        print_json(created)
        return
    console.print(
        f"Send this link to the user (valid until {created.expires_at:%Y-%m-%d %H:%M} UTC):"
    )
    click.echo(f"{url}{created.accept_path}")
