"""``corral findings``: silent failures detected in a project, and the detector settings."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json
from corral.cli.traces import _given
from corral.schemas.detection import FINDING_TYPES, DetectorSettingsView, FindingDetail

COLUMNS = [
    "id",
    "first_detected_at",
    "type",
    "severity",
    "status",
    "agent",
    "session_id",
    "step",
    "wasted_tokens",
    "wasted_cost_usd",
]
DETAIL_COLUMNS = [
    "id",
    "type",
    "severity",
    "status",
    "agent",
    "session_id",
    "trace_id",
    "step",
    "step_span_id",
    "explanation",
    "wasted_tokens",
    "wasted_cost_usd",
    "first_detected_at",
    "updated_at",
    "acknowledged_by",
    "resolved_by",
]


@click.group()
def findings() -> None:
    """Silent failures Corral detected: loops, re-fetches, handoff cycles, ignored errors."""


@findings.command("list")
@click.argument("project")
@click.option("--type", "type_", type=click.Choice(FINDING_TYPES), help="Finding type.")
@click.option(
    "--severity", type=click.Choice(["info", "warning", "critical"]), help="Exact severity."
)
@click.option("--agent", help="Agent the finding is about.")
@click.option("--session", help="Session id.")
@click.option(
    "--status", type=click.Choice(["open", "acknowledged", "resolved"]), help="Finding status."
)
@click.option("--since", type=click.DateTime(), help="First detected at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="First detected before (UTC).")
@click.option("--limit", type=int, default=20, show_default=True, help="How many findings.")
@json_option
@pass_state
def list_(
    state: CliState,
    /,
    project: str,
    type_: str | None,
    limit: int,
    as_json: bool,
    **options: object,
) -> None:
    """Findings of PROJECT, newest first."""
    with state.client() as client:
        found = client.findings.list(project, limit=limit, type=type_, **_given(options))
    emit(found, as_json=as_json, columns=COLUMNS, empty="No findings match.")


@findings.command()
@click.argument("project")
@click.argument("finding_id", type=int)
@json_option
@pass_state
def show(state: CliState, project: str, finding_id: int, as_json: bool) -> None:
    """Finding FINDING_ID of PROJECT with its evidence spans."""
    with state.client() as client:
        found = client.findings.get(project, finding_id)
    if as_json:
        print_json(found)
        return
    _print_detail(found)


def _print_detail(found: FindingDetail) -> None:
    emit(found, as_json=False, columns=DETAIL_COLUMNS)
    emit(
        found.evidence,
        as_json=False,
        columns=["start_time", "span_id", "span_type", "agent_name", "tool_name", "status"],
        title="Evidence",
        empty="The evidence spans are no longer stored.",
    )


def _status_command(name: str, status: str, verb: str) -> None:
    @findings.command(name, help=f"{verb} finding FINDING_ID of PROJECT (audited).")
    @click.argument("project")
    @click.argument("finding_id", type=int)
    @click.option("--note", help="Why, for the audit trail.")
    @json_option
    @pass_state
    def command(
        state: CliState, project: str, finding_id: int, note: str | None, as_json: bool
    ) -> None:
        with state.client() as client:
            action = {
                "acknowledged": client.findings.acknowledge,
                "resolved": client.findings.resolve,
                "open": client.findings.reopen,
            }[status]
            emit(action(project, finding_id, note=note), as_json=as_json, columns=COLUMNS)


_status_command("ack", "acknowledged", "Acknowledge")
_status_command("resolve", "resolved", "Resolve")
_status_command("reopen", "open", "Reopen")


@findings.command()
@click.argument("project")
@click.option("--agent", help="Settings of this agent (default: the project's).")
@json_option
@pass_state
def settings(state: CliState, project: str, agent: str | None, as_json: bool) -> None:
    """Detector settings of PROJECT (or of one agent): overrides and what is in effect."""
    with state.client() as client:
        found = client.findings.settings(project, agent=agent)
    _print_settings(found, as_json=as_json)


@findings.command()
@click.argument("project")
@click.option("--agent", help="Configure this agent (default: the project).")
@click.option(
    "--set",
    "values",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a setting (repeatable); VALUE is JSON or a word, lists comma-separated.",
)
@click.option("--unset", multiple=True, metavar="NAME", help="Back to the inherited value.")
@json_option
@pass_state
def configure(
    state: CliState,
    project: str,
    agent: str | None,
    values: tuple[str, ...],
    unset: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change detector settings of PROJECT (project admins; audited).

    Example: corral findings configure acme --set halt_on=tool_loop,handoff_cycle
    --set loop_repeats=4
    """
    if not values and not unset:
        raise click.UsageError("give at least one --set or --unset")
    changes = dict(_setting(v) for v in values)
    with state.client() as client:
        found = client.findings.configure(project, agent=agent, unset=list(unset), **changes)
    _print_settings(found, as_json=as_json)


def _setting(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--set")
    name = name.strip()
    try:
        return name, json.loads(raw)
    except ValueError:
        pass
    if name in ("halt_on", "polling_tools", "read_only_tools", "write_tools"):
        return name, [item.strip() for item in raw.split(",") if item.strip()]
    return name, raw


def _print_settings(found: DetectorSettingsView, *, as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    who = f"agent {found.agent} in {found.project}" if found.agent else f"project {found.project}"
    effective = found.effective.model_dump()
    rows = [
        (name, value, "set here" if name in found.overrides else "inherited")
        for name, value in effective.items()
    ]
    table = Table(title=f"Detector settings of {who}", title_justify="left")
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for name, value, origin in rows:
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        table.add_row(name, shown or "-", origin)
    console.print(table)
    if found.agents_with_overrides:
        console.print(
            "Agents with settings of their own: " + ", ".join(found.agents_with_overrides)
        )
