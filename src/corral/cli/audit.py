"""``corral audit``: the tamper-evident audit trail."""

from __future__ import annotations

import json
from typing import Any

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json

COLUMNS = ["seq", "occurred_at", "actor_name", "action", "target_id", "project", "outcome"]


def filter_options(function: Any) -> Any:
    options = [
        click.option("--action", help="Exact action, or a prefix ending in '*' (e.g. 'user.*')."),
        click.option("--actor", help="Actor name (email or agent) or API key id."),
        click.option("--project", help="Project name."),
        click.option("--outcome", type=click.Choice(["success", "denied", "failure"])),
        click.option("--since", type=click.DateTime(), help="From this time (UTC unless zoned)."),
        click.option("--until", type=click.DateTime(), help="Before this time."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _filters(**values: Any) -> dict[str, Any]:
    return {k: values[k] for k in ("action", "actor", "project", "outcome", "since", "until")}


@click.group()
def audit() -> None:
    """The audit trail: who did what, every authorization decision, and proof it was not edited."""


@audit.command("list")
@filter_options
@click.option("--limit", type=int, default=50, show_default=True, help="How many events.")
@json_option
@pass_state
def list_(state: CliState, /, limit: int, as_json: bool, **filters: Any) -> None:
    """The newest events, newest first."""
    with state.client() as client:
        events = client.audit.list(limit=limit, **_filters(**filters))
    emit(events, as_json=as_json, columns=COLUMNS, empty="No matching audit events.")


@audit.command()
@filter_options
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write (JSONL).")
@pass_state
def export(state: CliState, /, output: Any, **filters: Any) -> None:
    """Every matching event as JSON Lines, oldest first (with hashes, for offline checks)."""
    with state.client() as client:
        for event in client.audit.export(**_filters(**filters)):
            output.write(json.dumps(event.model_dump(mode="json")) + "\n")


@audit.command()
@json_option
@pass_state
def verify(state: CliState, as_json: bool) -> None:
    """Recompute the whole hash chain and check the signed checkpoints; exit 1 if broken."""
    with state.client() as client:
        result = client.audit.verify()
    if as_json:
        print_json(result)
    elif result.ok:
        console.print(
            f"[green]OK[/green]: {result.checked} events verified up to event {result.head_seq}, "
            f"{result.checkpoints_checked} signed checkpoints match."
        )
    else:
        console.print(f"[red]BROKEN[/red] at event {result.first_bad_seq}: {result.problem}")
    if not result.ok:
        raise SystemExit(1)


@audit.command()
@json_option
@pass_state
def checkpoints(state: CliState, as_json: bool) -> None:
    """Signed checkpoints of the chain head (Ed25519), newest first."""
    with state.client() as client:
        emit(
            client.audit.checkpoints(),
            as_json=as_json,
            columns=["seq", "hash", "signed_at", "valid", "public_key"],
            empty="No checkpoint yet: one is written every CORRAL_AUDIT_CHECKPOINT_MINUTES.",
        )
