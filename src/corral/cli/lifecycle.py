"""``corral agents versions``, ``corral deploy``, ``corral rollback``, ``corral agents resolve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json

VERSION_COLUMNS = ["number", "state", "content_hash", "base", "note", "created_by", "created_at"]
DEPLOYMENT_COLUMNS = [
    "environment",
    "active_version",
    "canary_version",
    "canary_weight",
    "previous_version",
    "updated_at",
]
ENVIRONMENT = click.option(
    "--environment",
    "-e",
    default="production",
    show_default=True,
    help="The environment (production, staging, …).",
)
REASON = click.option("--reason", default="", help="Why (kept in the audit trail).")


def read_config(path: Path) -> dict[str, Any]:
    """An agent config from a YAML or JSON file."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise click.UsageError(f"{path} is not valid YAML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise click.UsageError(f"{path} must hold a mapping of config fields")
    return data


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``a.b=value`` pairs as a nested merge patch; values read as JSON when they can be."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        path, sep, raw = pair.partition("=")
        if not sep or not path:
            raise click.UsageError(f"--set takes PATH=VALUE, not {pair!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = changes
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return changes


@click.group()
def versions() -> None:
    """Immutable, content-hashed versions of an agent's configuration."""


@versions.command("list")
@click.argument("agent")
@json_option
@pass_state
def list_(state: CliState, agent: str, as_json: bool) -> None:
    """Versions of AGENT, newest first."""
    with state.client() as client:
        emit(
            client.agents.versions(agent),
            as_json=as_json,
            columns=VERSION_COLUMNS,
            empty=f"{agent} has no versions: `corral agents versions create {agent} --file FILE`.",
        )


@versions.command()
@click.argument("agent")
@click.option(
    "--file",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The whole configuration, as YAML or JSON.",
)
@click.option("--from", "base", type=int, help="Start from this version (default: the newest).")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change one field, e.g. parameters.temperature=0.2 (repeatable).",
)
@click.option("--note", default="", help="What changed and why.")
@click.option("--draft", is_flag=True, help="Keep it editable; drafts serve nothing.")
@json_option
@pass_state
def create(
    state: CliState,
    agent: str,
    config_file: Path | None,
    base: int | None,
    assignments: tuple[str, ...],
    note: str,
    draft: bool,
    as_json: bool,
) -> None:
    """Create a version of AGENT from a file, or from an earlier version with --set changes."""
    if (config_file is None) == (not assignments):
        raise click.UsageError("give --file, or --set (with an optional --from)")
    with state.client() as client:
        created = client.agents.create_version(
            agent,
            config=read_config(config_file) if config_file else None,
            changes=parse_assignments(assignments) if assignments else None,
            base=base,
            note=note,
            draft=draft,
        )
    emit(created, as_json=as_json, columns=VERSION_COLUMNS)


@versions.command()
@click.argument("agent")
@click.argument("number", type=int)
@json_option
@pass_state
def show(state: CliState, agent: str, number: int, as_json: bool) -> None:
    """Show version NUMBER of AGENT with its configuration."""
    with state.client() as client:
        version = client.agents.version(agent, number)
    if as_json:
        print_json(version)
        return
    emit(version, as_json=False, columns=VERSION_COLUMNS)
    console.print(
        yaml.safe_dump(version.config.model_dump(mode="json"), sort_keys=False), highlight=False
    )


@versions.command()
@click.argument("agent")
@click.argument("first", type=int)
@click.argument("second", type=int)
@json_option
@pass_state
def diff(state: CliState, agent: str, first: int, second: int, as_json: bool) -> None:
    """What changed in AGENT's configuration from version FIRST to version SECOND."""
    with state.client() as client:
        result = client.agents.diff(agent, first, second)
    if as_json:
        print_json(result)
        return
    if not result.changes:
        console.print("The two versions have the same configuration.")
    for change in result.changes:
        console.print(f"[bold]{change.path}[/bold]", highlight=False)
        console.print(f"  [red]- {json.dumps(change.before)}[/red]", highlight=False)
        console.print(f"  [green]+ {json.dumps(change.after)}[/green]", highlight=False)


@versions.command()
@click.argument("agent")
@click.argument("number", type=int)
@click.option(
    "--file",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The new configuration of the draft.",
)
@click.option("--note", help="New note.")
@json_option
@pass_state
def edit(
    state: CliState,
    agent: str,
    number: int,
    config_file: Path | None,
    note: str | None,
    as_json: bool,
) -> None:
    """Change draft NUMBER of AGENT (other versions are immutable)."""
    with state.client() as client:
        version = client.agents.update_draft(
            agent, number, config=read_config(config_file) if config_file else None, note=note
        )
    emit(version, as_json=as_json, columns=VERSION_COLUMNS)


@versions.command()
@click.argument("agent")
@click.argument("number", type=int)
@click.argument(
    "state_name",
    metavar="STATE",
    type=click.Choice(["candidate", "deprecated", "retired", "aborted"]),
)
@REASON
@json_option
@pass_state
def transition(
    state: CliState, agent: str, number: int, state_name: str, reason: str, as_json: bool
) -> None:
    """Move version NUMBER of AGENT to STATE: candidate (freeze a draft), deprecated, retired."""
    with state.client() as client:
        version = client.agents.transition(agent, number, state_name, reason=reason)
    emit(version, as_json=as_json, columns=VERSION_COLUMNS)


@click.command()
@click.argument("agent")
@click.argument("version", type=int)
@ENVIRONMENT
@click.option(
    "--canary",
    "canary_weight",
    type=float,
    help="Serve it to this % of new sessions as a canary instead of making it active.",
)
@REASON
@json_option
@pass_state
def deploy(
    state: CliState,
    agent: str,
    version: int,
    environment: str,
    canary_weight: float | None,
    reason: str,
    as_json: bool,
) -> None:
    """Deploy VERSION of AGENT to an environment: active at once, or as a --canary."""
    with state.client() as client:
        deployment = client.agents.deploy(
            agent, version, environment=environment, canary_weight=canary_weight, reason=reason
        )
    emit(deployment, as_json=as_json, columns=DEPLOYMENT_COLUMNS)


@click.command()
@click.argument("agent")
@ENVIRONMENT
@REASON
@json_option
@pass_state
def rollback(state: CliState, agent: str, environment: str, reason: str, as_json: bool) -> None:
    """Serve AGENT's previous version again in an environment, at once, for new sessions."""
    with state.client() as client:
        deployment = client.agents.rollback(agent, environment=environment, reason=reason)
    emit(deployment, as_json=as_json, columns=DEPLOYMENT_COLUMNS)


@click.command()
@click.argument("agent")
@json_option
@pass_state
def deployments(state: CliState, agent: str, as_json: bool) -> None:
    """What each environment serves of AGENT."""
    with state.client() as client:
        emit(
            client.agents.deployments(agent),
            as_json=as_json,
            columns=DEPLOYMENT_COLUMNS,
            empty=f"{agent} is not deployed anywhere.",
        )


@click.command()
@click.argument("agent")
@ENVIRONMENT
@click.option("--session", help="The session to resolve for (its version never changes).")
@json_option
@pass_state
def resolve(
    state: CliState, agent: str, environment: str, session: str | None, as_json: bool
) -> None:
    """The version of AGENT a session must use."""
    with state.client() as client:
        resolved = client.agents.resolve(agent, environment=environment, session=session)
    emit(
        resolved,
        as_json=as_json,
        columns=["agent", "environment", "session", "version", "state", "canary"],
    )
