"""``corral projects``."""

from __future__ import annotations

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option
from corral.schemas.access import Role

COLUMNS = ["name", "description", "role", "last_active_at", "retention_days"]
ROLES = click.Choice([r.value for r in Role])


@click.group()
def projects() -> None:
    """Projects: the isolation boundary of memory, traces, costs and budgets."""


@projects.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Projects you reach, most recently active first."""
    with state.client() as client:
        emit(
            client.projects.list(),
            as_json=as_json,
            columns=COLUMNS,
            empty="No projects yet: `corral projects create NAME` makes one.",
        )


@projects.command()
@click.argument("name")
@click.option("--description", default="", help="What the project is for.")
@click.option("--retention-days", type=int, help="Delete traces older than this many days.")
@json_option
@pass_state
def create(
    state: CliState, name: str, description: str, retention_days: int | None, as_json: bool
) -> None:
    """Create a project (workspace admins)."""
    with state.client() as client:
        emit(
            client.projects.create(name, description=description, retention_days=retention_days),
            as_json=as_json,
            columns=COLUMNS,
        )


@projects.command()
@click.argument("name")
@json_option
@pass_state
def show(state: CliState, name: str, as_json: bool) -> None:
    """Show one project."""
    with state.client() as client:
        emit(client.projects.get(name), as_json=as_json, columns=["id", *COLUMNS, "created_at"])


@projects.command()
@click.argument("name")
@click.option("--rename", "new_name", help="New name.")
@click.option("--description", help="New description.")
@click.option("--retention-days", type=int, help="New trace retention in days.")
@json_option
@pass_state
def update(
    state: CliState,
    name: str,
    new_name: str | None,
    description: str | None,
    retention_days: int | None,
    as_json: bool,
) -> None:
    """Rename a project or change its description or retention."""
    with state.client() as client:
        project = client.projects.update(
            name, new_name=new_name, description=description, retention_days=retention_days
        )
        emit(project, as_json=as_json, columns=COLUMNS)


@projects.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def delete(state: CliState, name: str, yes: bool) -> None:
    """Delete a project and everything stored in it."""
    if not yes:
        click.confirm(f"Delete project {name!r} and all its data?", abort=True)
    with state.client() as client:
        client.projects.delete(name)
    console.print(f"Deleted project {name}.")


@projects.command()
@click.argument("name")
@json_option
@pass_state
def members(state: CliState, name: str, as_json: bool) -> None:
    """Users and agents with a role in the project."""
    with state.client() as client:
        emit(
            client.projects.members(name),
            as_json=as_json,
            columns=["principal_kind", "principal_name", "principal_id", "role"],
        )


@projects.command("set-role")
@click.argument("name")
@click.argument("user_id", type=int)
@click.argument("role", type=ROLES)
@json_option
@pass_state
def set_role(state: CliState, name: str, user_id: int, role: str, as_json: bool) -> None:
    """Give user USER_ID the ROLE (viewer, member, admin) in project NAME."""
    with state.client() as client:
        emit(
            client.projects.set_role(name, user_id, role),
            as_json=as_json,
            columns=["project", "principal_name", "role"],
        )


@projects.command("remove-user")
@click.argument("name")
@click.argument("user_id", type=int)
@pass_state
def remove_user(state: CliState, name: str, user_id: int) -> None:
    """Remove user USER_ID from project NAME."""
    with state.client() as client:
        client.projects.remove_user(name, user_id)
    console.print(f"Removed user {user_id} from {name}.")
