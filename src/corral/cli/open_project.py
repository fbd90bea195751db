"""``corral open``: restore a project's context in one command."""

from __future__ import annotations

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import json_option, print_json


@click.command("open")
@click.argument("name", required=False)
@click.option("--recent", is_flag=True, help="The project you worked in most recently.")
@click.option("--task", help="What you are about to do: the most relevant items are added.")
@click.option("--budget", type=click.IntRange(64, 200_000), help="Token budget (default 2000).")
@json_option
@pass_state
def open_(
    state: CliState,
    name: str | None,
    recent: bool,
    task: str | None,
    budget: int | None,
    as_json: bool,
) -> None:
    """Print the context pack of project NAME (exact or approximate) or, with --recent, of the
    project you worked in most recently."""
    if bool(name) == recent:
        raise click.UsageError("give a project NAME or --recent (one of them).")
    with state.client() as client:
        if recent:
            pack = client.memory.open_recent(task=task, budget=budget)
        else:
            pack = client.memory.open(str(name), task=task, budget=budget)
    if as_json:
        print_json(pack)
    else:
        click.echo(pack.markdown)
