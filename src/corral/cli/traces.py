"""``corral traces``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.table import Table
from rich.tree import Tree

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json
from corral.schemas.observability import HandoffGraph, SpanSummary

COLUMNS = [
    "trace_id",
    "name",
    "start_time",
    "duration_ms",
    "status",
    "agent_name",
    "session_id",
    "span_count",
    "cost_usd",
]
SPAN_TYPES = click.Choice(
    ["llm", "tool", "agent", "handoff", "retrieval", "embedding", "chain", "other", "all"]
)


def filters(function: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(
        [
            click.option("--agent", help="Root agent of the trace."),
            click.option("--user", help="User id."),
            click.option("--session", help="Session id."),
            click.option("--model", help="A model used by any span."),
            click.option("--status", type=click.Choice(["ok", "error"]), help="ok or error."),
            click.option("--since", type=click.DateTime(), help="Started at or after (UTC)."),
            click.option("--until", type=click.DateTime(), help="Started before (UTC)."),
            click.option("--search", help="Text in any span's input, output or tool call."),
        ]
    ):
        function = option(function)
    return function


@click.group()
def traces() -> None:
    """Traces: what agents did, span by span."""


@traces.command("list")
@click.argument("project")
@filters
@click.option("--limit", type=int, default=20, show_default=True, help="How many traces.")
@json_option
@pass_state
def list_(state: CliState, /, project: str, limit: int, as_json: bool, **options: object) -> None:
    """Traces of PROJECT, newest first."""
    with state.client() as client:
        found = client.traces.list(project, limit=limit, **_given(options))
    emit(found, as_json=as_json, columns=COLUMNS, empty="No traces match.")


@traces.command()
@click.argument("project")
@click.argument("trace_id")
@json_option
@pass_state
def show(state: CliState, project: str, trace_id: str, as_json: bool) -> None:
    """The span tree of trace TRACE_ID in PROJECT."""
    with state.client() as client:
        tree = client.traces.get(project, trace_id)
    if as_json:
        print_json(tree)
        return
    trace = tree.trace
    root = Tree(
        f"[bold]{trace.name or trace.trace_id}[/bold]  {trace.duration_ms:.0f} ms, "
        f"{trace.span_count} spans, ${trace.cost_usd:.6f}, {trace.status}"
    )
    nodes: dict[str | None, Tree] = {}
    for span in tree.spans:
        parent = nodes.get(span.parent_span_id, root)
        nodes[span.span_id] = parent.add(_describe_span(span))
    console.print(root)


@traces.command()
@click.argument("project")
@click.argument("trace_id")
@click.argument("span_id")
@json_option
@pass_state
def span(state: CliState, project: str, trace_id: str, span_id: str, as_json: bool) -> None:
    """Everything stored for span SPAN_ID of trace TRACE_ID, raw attributes included."""
    with state.client() as client:
        detail = client.traces.span(project, trace_id, span_id)
    if as_json:
        print_json(detail)
        return
    emit(
        detail,
        as_json=False,
        columns=[
            "name",
            "span_type",
            "status",
            "error_message",
            "start_time",
            "duration_ms",
            "agent_name",
            "session_id",
            "user_id",
            "model",
            "provider",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "price_version",
            "tool_name",
            "tool_arguments",
            "tool_result",
            "input_text",
            "output_text",
            "attributes",
        ],
    )


@traces.command()
@click.argument("project")
@click.option("--session", help="The session whose graph to draw.")
@click.option("--agent", help="The agent whose neighbourhood to draw.")
@click.option("--since", type=click.DateTime(), help="With --agent: from (UTC).")
@click.option("--until", type=click.DateTime(), help="With --agent: until (UTC).")
@json_option
@pass_state
def graph(
    state: CliState,
    project: str,
    session: str | None,
    agent: str | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """Handoffs between agents and their tool calls, for a session or an agent."""
    with state.client() as client:
        found = client.traces.handoff_graph(
            project, session=session, agent=agent, since=_utc(since), until=_utc(until)
        )
    print_graph(found, as_json=as_json)


@traces.command()
@click.option("--project", "projects", multiple=True, help="Project (repeatable; default all).")
@click.option(
    "--group-by",
    type=click.Choice(["agent", "project", "user", "model"]),
    default="agent",
    show_default=True,
    help="Group by.",
)
@click.option(
    "--interval",
    type=click.Choice(["minute", "hour", "day"]),
    default="hour",
    show_default=True,
    help="Bucket size.",
)
@click.option(
    "--span-type", type=SPAN_TYPES, default="llm", show_default=True, help="Spans counted."
)
@click.option("--since", type=click.DateTime(), help="From (UTC; default a day ago).")
@click.option("--until", type=click.DateTime(), help="Until (UTC; default now).")
@json_option
@pass_state
def metrics(
    state: CliState,
    projects: tuple[str, ...],
    group_by: str,
    interval: str,
    span_type: str,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """Calls, tokens, cost, errors and latency p50/p95 over time."""
    with state.client() as client:
        found = client.traces.metrics(
            projects=list(projects) or None,
            group_by=group_by,
            interval=interval,
            span_type=span_type,
            since=_utc(since),
            until=_utc(until),
        )
    if as_json:
        print_json(found)
        return
    emit(
        found.points,
        as_json=False,
        columns=[
            "bucket",
            "group",
            "calls",
            "errors",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "latency_p50_ms",
            "latency_p95_ms",
        ],
        empty="No spans in that range.",
    )


@traces.command()
@click.argument("project")
@click.option("--before", type=click.DateTime(), help="Traces that started before (UTC).")
@click.option("--older-than-days", type=float, help="Traces older than this many days.")
@click.option("--session", help="Traces of this session.")
@click.option("--user", help="Traces of this user.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_state
def purge(
    state: CliState,
    project: str,
    before: datetime | None,
    older_than_days: float | None,
    session: str | None,
    user: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Delete traces of PROJECT by age, session or user (project admins; audited)."""
    from datetime import UTC, timedelta

    if older_than_days is not None:
        before = datetime.now(UTC) - timedelta(days=older_than_days)
    if not yes:
        click.confirm(f"Delete the matching traces of {project!r}?", abort=True)
    with state.client() as client:
        result = client.traces.purge(project, before=_utc(before), session_id=session, user_id=user)
    emit(result, as_json=as_json, columns=["traces_deleted", "spans_deleted", "sessions_deleted"])


@traces.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--project", required=True, help="Project the spans go to.")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["who-and-when"]),
    default="who-and-when",
    show_default=True,
    help="Format of the logs.",
)
@json_option
@pass_state
def import_(state: CliState, directory: Path, project: str, format_: str, as_json: bool) -> None:
    """Import multi-agent logs from DIRECTORY as traces of PROJECT, one session per log.

    Who&When logs (``*.json`` with a ``history`` of messages) become spans sent to the OTLP
    endpoint, so they are stored, costed and checked by the detectors like any agent's.
    Importing the same log again stores nothing new.
    """
    from datetime import UTC, timedelta

    from corral.core.detection.who_and_when import load_logs, log_to_otlp, session_name

    logs = load_logs(directory)
    if not logs:
        raise click.ClickException(f"no *.json logs under {directory}")
    start = datetime.now(UTC) - timedelta(seconds=len(logs))
    imported: list[dict[str, object]] = []
    with state.client() as client:
        for index, log in enumerate(logs):
            assert log.path is not None
            session = session_name(log.path)
            document = log_to_otlp(
                log, project=project, session=session, start=start + timedelta(seconds=index)
            )
            answer = client.traces.export(document)
            rejected = int(answer.get("partialSuccess", {}).get("rejectedSpans", 0) or 0)
            imported.append(
                {
                    "log": str(log.path.relative_to(directory)),
                    "session": session,
                    "spans": len(log.spans) - rejected,
                    "rejected": rejected,
                    "mistake_agent": log.mistake_agent,
                    "mistake_step": log.mistake_step,
                }
            )
    if as_json:
        print_json(imported)
        return
    table = Table(title=f"Imported {len(imported)} logs into {project}", title_justify="left")
    for column in ("log", "session", "spans", "rejected"):
        table.add_column(column)
    for row in imported:
        table.add_row(*(str(row[c]) for c in ("log", "session", "spans", "rejected")))
    console.print(table)


def print_graph(found: HandoffGraph, *, as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    emit(
        found.edges,
        as_json=False,
        columns=["source", "target", "kind", "count"],
        empty="No handoffs or tool calls.",
    )


def _describe_span(span: SpanSummary) -> str:
    parts = [f"[bold]{span.name}[/bold]", f"{span.span_type}", f"{span.duration_ms:.0f} ms"]
    if span.agent_name:
        parts.append(f"agent={span.agent_name}")
    if span.model:
        parts.append(f"model={span.model}")
    if span.input_tokens is not None or span.output_tokens is not None:
        parts.append(f"tokens={span.input_tokens or 0}/{span.output_tokens or 0}")
    if span.cost_usd:
        parts.append(f"${span.cost_usd:.6f}")
    if span.tool_name:
        parts.append(f"tool={span.tool_name}")
    if span.status == "error":
        parts.append(f"[red]error: {span.error_message or ''}[/red]")
    return "  ".join(parts)


def _given(options: dict[str, object]) -> dict[str, object]:
    return {
        k: _utc(v) if isinstance(v, datetime) else v for k, v in options.items() if v is not None
    }


def _utc(moment: datetime | None) -> datetime | None:
    from datetime import UTC

    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
