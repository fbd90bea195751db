"""``corral agents``."""

from __future__ import annotations

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option
from corral.schemas.access import Role

COLUMNS = ["name", "description", "projects", "disabled", "created_at"]


@click.group()
def agents() -> None:
    """Agents: named identities that act in the projects they are granted."""


@agents.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Agents granted to projects you reach (all of them for workspace admins)."""
    with state.client() as client:
        emit(
            client.agents.list(),
            as_json=as_json,
            columns=COLUMNS,
            empty="No agents yet: `corral agents create NAME` makes one.",
        )


@agents.command()
@click.argument("name")
@click.option("--description", default="", help="What the agent does.")
@json_option
@pass_state
def create(state: CliState, name: str, description: str, as_json: bool) -> None:
    """Create an agent identity (workspace admins)."""
    with state.client() as client:
        emit(client.agents.create(name, description=description), as_json=as_json, columns=COLUMNS)


@agents.command()
@click.argument("name")
@json_option
@pass_state
def show(state: CliState, name: str, as_json: bool) -> None:
    """Show one agent."""
    with state.client() as client:
        emit(client.agents.get(name), as_json=as_json, columns=["id", *COLUMNS])


@agents.command()
@click.argument("name")
@click.option("--description", help="New description.")
@click.option("--disable/--enable", "disabled", default=None, help="Stop or restore its access.")
@json_option
@pass_state
def update(
    state: CliState, name: str, description: str | None, disabled: bool | None, as_json: bool
) -> None:
    """Change an agent's description, or disable or enable it."""
    with state.client() as client:
        emit(
            client.agents.update(name, description=description, disabled=disabled),
            as_json=as_json,
            columns=COLUMNS,
        )


@agents.command()
@click.argument("name")
@click.argument("project")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default="member",
    show_default=True,
    help="Role of the agent in the project.",
)
@json_option
@pass_state
def grant(state: CliState, name: str, project: str, role: str, as_json: bool) -> None:
    """Let agent NAME act in PROJECT."""
    with state.client() as client:
        emit(
            client.projects.grant_agent(project, name, role),
            as_json=as_json,
            columns=["project", "principal_name", "role"],
        )


@agents.command()
@click.argument("name")
@click.argument("project")
@pass_state
def revoke(state: CliState, name: str, project: str) -> None:
    """Withdraw agent NAME's access to PROJECT."""
    with state.client() as client:
        client.projects.revoke_agent(project, name)
    console.print(f"Agent {name} no longer has access to {project}.")
