"""``corral policies``: which tools each agent may call."""

from __future__ import annotations

import json
from pathlib import Path

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json
from corral.schemas.policies import ToolPolicy, ToolRule, parse_rule

COLUMNS = ["agent", "version", "active", "note", "created_by", "created_at"]


def _show(policy: ToolPolicy | None, agent: str, as_json: bool) -> None:
    if as_json:
        print_json(policy)
        return
    if policy is None or policy.cedar is None:
        console.print(f"Agent {agent} has no tool policy: every tool is allowed.")
        return
    emit(policy, as_json=False, columns=COLUMNS)
    console.print(policy.cedar, highlight=False)


@click.group()
def policies() -> None:
    """Tool policies: which tools an agent may call, and with which arguments (Cedar)."""


@policies.command()
@click.argument("agent")
@json_option
@pass_state
def show(state: CliState, agent: str, as_json: bool) -> None:
    """Show the policy in force for AGENT, as Cedar."""
    with state.client() as client:
        _show(client.policies.get(agent), agent, as_json)


@policies.command("set")
@click.argument("agent")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="RULE",
    help='A one-line rule, e.g. "allow refund when amount <= 500" (repeatable).',
)
@click.option(
    "--rules-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON file with a list of rules ({effect, tools, when, projects}).",
)
@click.option(
    "--cedar-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of raw Cedar policy statements.",
)
@click.option("--note", default="", help="Why this version (kept with it).")
@json_option
@pass_state
def set_(
    state: CliState,
    agent: str,
    rules: tuple[str, ...],
    rules_file: Path | None,
    cedar_file: Path | None,
    note: str,
    as_json: bool,
) -> None:
    """Save a new policy version for AGENT. Once an agent has a policy, only what it allows is
    allowed; a deny always wins."""
    if sum(bool(x) for x in (rules, rules_file, cedar_file)) != 1:
        raise click.UsageError("give --rule (repeatable), --rules-file or --cedar-file")
    parsed: list[ToolRule] | None = None
    cedar = None
    try:
        if rules:
            parsed = [parse_rule(text) for text in rules]
        elif rules_file:
            parsed = [ToolRule.model_validate(r) for r in json.loads(rules_file.read_text())]
        elif cedar_file:
            cedar = cedar_file.read_text()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    with state.client() as client:
        _show(client.policies.save(agent, rules=parsed, cedar=cedar, note=note), agent, as_json)


@policies.command()
@click.argument("agent")
@json_option
@pass_state
def clear(state: CliState, agent: str, as_json: bool) -> None:
    """Remove AGENT's policy: every tool is allowed again (kept as a new version)."""
    with state.client() as client:
        _show(client.policies.clear(agent), agent, as_json)


@policies.command()
@click.argument("agent")
@json_option
@pass_state
def versions(state: CliState, agent: str, as_json: bool) -> None:
    """Every policy version of AGENT, newest first."""
    with state.client() as client:
        emit(
            client.policies.versions(agent),
            as_json=as_json,
            columns=COLUMNS,
            empty=f"Agent {agent} never had a tool policy.",
        )


@policies.command()
@click.argument("agent")
@click.argument("version", type=int)
@json_option
@pass_state
def restore(state: CliState, agent: str, version: int, as_json: bool) -> None:
    """Put VERSION of AGENT's policy back in force."""
    with state.client() as client:
        _show(client.policies.restore(agent, version), agent, as_json)


@policies.command()
@click.argument("agent")
@click.argument("tool")
@click.option("--project", required=True, help="Project the call would happen in.")
@click.option("--args", "args_json", default="{}", help="The call's arguments as a JSON object.")
@json_option
@pass_state
def check(
    state: CliState, agent: str, tool: str, project: str, args_json: str, as_json: bool
) -> None:
    """Ask whether AGENT may call TOOL with --args in --project (the decision is audited)."""
    try:
        args = json.loads(args_json)
    except ValueError as exc:
        raise click.UsageError(f"--args is not JSON: {exc}") from exc
    if not isinstance(args, dict):
        raise click.UsageError("--args must be a JSON object")
    with state.client() as client:
        decision = client.authorize(tool, args, project=project, agent=agent)
    if as_json:
        print_json(decision)
        return
    verdict = "[green]ALLOW[/green]" if decision.allowed else "[red]DENY[/red]"
    console.print(f"{verdict} {decision.message}")
