"""``corral budgets``: spending limits enforced before each call."""

from __future__ import annotations

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option

COLUMNS = [
    "id",
    "name",
    "scope",
    "subject",
    "project",
    "unit",
    "limit",
    "window",
    "enforce",
    "thresholds",
]
USAGE_COLUMNS = ["subject", "spent", "reserved", "remaining", "percent", "resets_at"]


@click.group()
def budgets() -> None:
    """Budgets in USD or tokens per workspace, project, agent, user, session or trace."""


@budgets.command("list")
@click.option("--project", help="Only the budgets of this project.")
@json_option
@pass_state
def list_(state: CliState, project: str | None, as_json: bool) -> None:
    """Budgets you can see."""
    with state.client() as client:
        emit(
            client.budgets.list(project=project),
            as_json=as_json,
            columns=COLUMNS,
            empty="No budgets: `corral budgets create` adds one.",
        )


@budgets.command()
@click.argument("name")
@click.option(
    "--scope",
    required=True,
    type=click.Choice(["workspace", "project", "agent", "user", "session", "trace"]),
    help="Whose calls count.",
)
@click.option("--limit", type=float, required=True, help="The limit, in USD or tokens.")
@click.option("--subject", help="One agent / user / session / trace (omit: each one separately).")
@click.option("--project", help="Count only calls in this project (required for --scope project).")
@click.option(
    "--unit",
    type=click.Choice(["usd", "tokens"]),
    default="usd",
    show_default=True,
    help="What the limit counts.",
)
@click.option(
    "--window",
    type=click.Choice(["total", "day", "month", "rolling"]),
    default="month",
    show_default=True,
    help="The period the limit applies to (calendar days/months in UTC).",
)
@click.option("--rolling-hours", type=int, help="Length of a rolling window, in hours.")
@click.option(
    "--threshold",
    "thresholds",
    type=int,
    multiple=True,
    help="Alert at this percentage of the limit (repeatable; default 50, 80, 100).",
)
@click.option("--soft", is_flag=True, help="Only alert; never refuse calls.")
@json_option
@pass_state
def create(
    state: CliState,
    name: str,
    scope: str,
    limit: float,
    subject: str | None,
    project: str | None,
    unit: str,
    window: str,
    rolling_hours: int | None,
    thresholds: tuple[int, ...],
    soft: bool,
    as_json: bool,
) -> None:
    """Create budget NAME."""
    with state.client() as client:
        budget = client.budgets.create(
            name,
            scope=scope,
            limit=limit,
            subject=subject,
            project=project,
            unit=unit,
            window=window,
            rolling_hours=rolling_hours,
            thresholds=list(thresholds) or None,
            enforce=not soft,
        )
    emit(budget, as_json=as_json, columns=COLUMNS)


@budgets.command()
@click.argument("budget_id", type=int)
@json_option
@pass_state
def show(state: CliState, budget_id: int, as_json: bool) -> None:
    """Show budget BUDGET_ID and its consumption in the current window."""
    with state.client() as client:
        budget = client.budgets.get(budget_id)
        usage = client.budgets.usage(budget_id)
    if as_json:
        from corral.cli.output import print_json

        print_json(
            {
                "budget": budget.model_dump(mode="json"),
                "usage": [u.model_dump(mode="json") for u in usage],
            }
        )
        return
    emit(budget, as_json=False, columns=COLUMNS)
    emit(
        usage,
        as_json=False,
        columns=USAGE_COLUMNS,
        title="Current window",
        empty="Nothing spent in the current window.",
    )


@budgets.command()
@click.argument("budget_id", type=int)
@click.option("--name", help="New name.")
@click.option("--limit", type=float, help="New limit.")
@click.option("--threshold", "thresholds", type=int, multiple=True, help="New alert percentages.")
@click.option("--soft/--hard", "soft", default=None, help="Only alert, or refuse past the limit.")
@click.option("--disable/--enable", "disabled", default=None, help="Stop or resume counting.")
@json_option
@pass_state
def update(
    state: CliState,
    budget_id: int,
    name: str | None,
    limit: float | None,
    thresholds: tuple[int, ...],
    soft: bool | None,
    disabled: bool | None,
    as_json: bool,
) -> None:
    """Change budget BUDGET_ID."""
    changes = {
        "name": name,
        "limit": limit,
        "thresholds": list(thresholds) or None,
        "enforce": None if soft is None else not soft,
        "disabled": disabled,
    }
    with state.client() as client:
        budget = client.budgets.update(
            budget_id, **{k: v for k, v in changes.items() if v is not None}
        )
    emit(budget, as_json=as_json, columns=COLUMNS)


@budgets.command()
@click.argument("budget_id", type=int)
@pass_state
def delete(state: CliState, budget_id: int) -> None:
    """Delete budget BUDGET_ID."""
    with state.client() as client:
        client.budgets.delete(budget_id)
    console.print(f"Deleted budget {budget_id}.")


@budgets.command()
@json_option
@pass_state
def alerts(state: CliState, as_json: bool) -> None:
    """Soft thresholds crossed, newest first."""
    with state.client() as client:
        emit(
            client.budgets.alerts(),
            as_json=as_json,
            columns=["fired_at", "budget", "subject", "threshold", "spent", "limit", "unit"],
            empty="No budget alerts.",
        )
