"""``corral sessions``."""

from __future__ import annotations

from datetime import datetime

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import emit, json_option
from corral.cli.traces import _utc, print_graph

COLUMNS = [
    "session_id",
    "last_seen",
    "status",
    "agent_name",
    "user_id",
    "span_count",
    "llm_calls",
    "cost_usd",
]


@click.group()
def sessions() -> None:
    """Sessions: one run or conversation of an agent, across its traces."""


@sessions.command("list")
@click.argument("project")
@click.option("--agent", help="Agent of the session.")
@click.option("--user", help="User id.")
@click.option("--status", type=click.Choice(["ok", "error"]), help="ok or error.")
@click.option("--since", type=click.DateTime(), help="Active at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Started before (UTC).")
@click.option("--limit", type=int, default=20, show_default=True, help="How many sessions.")
@json_option
@pass_state
def list_(
    state: CliState,
    project: str,
    agent: str | None,
    user: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Sessions of PROJECT, most recently active first."""
    with state.client() as client:
        found = client.sessions.list(
            project,
            limit=limit,
            **{
                k: v
                for k, v in {
                    "agent": agent,
                    "user": user,
                    "status": status,
                    "since": _utc(since),
                    "until": _utc(until),
                }.items()
                if v is not None
            },
        )
    emit(found, as_json=as_json, columns=COLUMNS, empty="No sessions match.")


@sessions.command()
@click.argument("project")
@click.argument("session_id")
@json_option
@pass_state
def show(state: CliState, project: str, session_id: str, as_json: bool) -> None:
    """The rollup of session SESSION_ID in PROJECT."""
    with state.client() as client:
        found = client.sessions.get(project, session_id)
    emit(
        found,
        as_json=as_json,
        columns=[*COLUMNS, "first_seen", "error_count", "input_tokens", "output_tokens"],
    )


@sessions.command()
@click.argument("project")
@click.argument("session_id")
@json_option
@pass_state
def timeline(state: CliState, project: str, session_id: str, as_json: bool) -> None:
    """Every span of session SESSION_ID in the order they started."""
    with state.client() as client:
        found = client.sessions.timeline(project, session_id)
    emit(
        found,
        as_json=as_json,
        columns=[
            "start_time",
            "span_type",
            "name",
            "agent_name",
            "tool_name",
            "model",
            "duration_ms",
            "status",
        ],
        empty="The session has no spans.",
    )


@sessions.command()
@click.argument("project")
@click.argument("session_id")
@json_option
@pass_state
def graph(state: CliState, project: str, session_id: str, as_json: bool) -> None:
    """Handoffs and tool calls of session SESSION_ID."""
    with state.client() as client:
        found = client.sessions.graph(project, session_id)
    print_graph(found, as_json=as_json)


HALT_COLUMNS = [
    "id",
    "session_id",
    "finding_id",
    "finding_type",
    "halted_at",
    "resumed_at",
    "resumed_by",
    "reason",
]


@sessions.command()
@click.argument("project")
@click.argument("session_id")
@json_option
@pass_state
def check(state: CliState, project: str, session_id: str, as_json: bool) -> None:
    """Whether session SESSION_ID may go on; exits 1 naming the finding if it is halted."""
    with state.client() as client:
        found = client.sessions.check(project, session_id)
    emit(found, as_json=as_json, columns=["session_id", "halted"])


@sessions.command()
@click.argument("project")
@click.argument("session_id")
@click.option("--note", help="Why it may go on, for the audit trail.")
@json_option
@pass_state
def resume(state: CliState, project: str, session_id: str, note: str | None, as_json: bool) -> None:
    """Resume session SESSION_ID, halted by the circuit breaker (audited)."""
    with state.client() as client:
        found = client.sessions.resume(project, session_id, note=note)
    emit(found, as_json=as_json, columns=HALT_COLUMNS)


@sessions.command()
@click.argument("project")
@click.option("--session", help="Only this session.")
@click.option("--resumed", is_flag=True, help="Include halts already resumed.")
@json_option
@pass_state
def halts(state: CliState, project: str, session: str | None, resumed: bool, as_json: bool) -> None:
    """Sessions of PROJECT halted by the circuit breaker, newest first."""
    with state.client() as client:
        found = client.sessions.halts(project, session=session, resumed=resumed)
    emit(found, as_json=as_json, columns=HALT_COLUMNS, empty="No halted sessions.")
