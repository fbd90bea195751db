"""``corral costs`` and ``corral prices``: who spent what, and at which prices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json

DIMENSIONS = ["project", "agent", "user", "model", "provider", "day", "session"]


@click.command()
@click.option(
    "--by",
    "group_by",
    multiple=True,
    type=click.Choice(DIMENSIONS),
    help="Group by this (repeatable; default agent).",
)
@click.option("--project", "projects", multiple=True, help="Only this project (repeatable).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC), inclusive.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC), inclusive.")
@click.option("--days", type=int, help="The last N days (instead of --since).")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@json_option
@pass_state
def costs(
    state: CliState,
    group_by: tuple[str, ...],
    projects: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    days: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """Spend on model calls grouped by project, agent, user, model, provider, day or session."""
    last: date | None = until.date() if until else None
    first: date | None = since.date() if since else None
    if days is not None:
        first = (last or datetime.now(UTC).date()) - timedelta(days=days - 1)
    with state.client() as client:
        report = client.costs.report(
            group_by=list(group_by) or None,
            projects=list(projects) or None,
            since=first,
            until=last,
            limit=limit,
        )
    if as_json:
        print_json(report)
        return
    columns = [*report.group_by, "calls", "input_tokens", "output_tokens", "cost_usd"]
    emit(
        report.rows,
        as_json=False,
        columns=columns,
        title=f"Spend {report.since} .. {report.until}",
        empty="No model calls in this period.",
    )
    console.print(f"Total: ${report.total_usd:,.4f} over {report.total_calls:,} calls")


@click.group()
def prices() -> None:
    """Model prices: the bundled table and your workspace's overrides."""


@prices.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Workspace price overrides (USD per million tokens)."""
    with state.client() as client:
        emit(
            client.prices.overrides(),
            as_json=as_json,
            columns=[
                "id",
                "model",
                "provider",
                "input_per_mtok",
                "output_per_mtok",
                "effective_from",
                "effective_to",
                "note",
            ],
            empty="No overrides: every price comes from the bundled table.",
        )


@prices.command("set")
@click.argument("model")
@click.option(
    "--input", "input_per_mtok", type=float, required=True, help="USD per million input tokens."
)
@click.option(
    "--output", "output_per_mtok", type=float, required=True, help="USD per million output tokens."
)
@click.option(
    "--cache-read", "cache_read_per_mtok", type=float, help="USD per million cached input tokens."
)
@click.option(
    "--cache-write", "cache_write_per_mtok", type=float, help="USD per million cache-write tokens."
)
@click.option(
    "--reasoning", "reasoning_per_mtok", type=float, help="USD per million reasoning tokens."
)
@click.option("--provider", help="Only for this provider.")
@click.option(
    "--from", "effective_from", type=click.DateTime(), help="Effective from (default now)."
)
@click.option("--to", "effective_to", type=click.DateTime(), help="Effective until.")
@click.option("--note", default="", help="Why (e.g. the contract).")
@json_option
@pass_state
def set_(
    state: CliState,
    model: str,
    input_per_mtok: float,
    output_per_mtok: float,
    cache_read_per_mtok: float | None,
    cache_write_per_mtok: float | None,
    reasoning_per_mtok: float | None,
    provider: str | None,
    effective_from: datetime | None,
    effective_to: datetime | None,
    note: str,
    as_json: bool,
) -> None:
    """Price MODEL (a glob, e.g. 'my-finetune-*') yourself from a date on (workspace admins)."""

    def zoned(moment: datetime | None) -> datetime | None:
        return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment

    with state.client() as client:
        override = client.prices.set(
            model,
            input_per_mtok=input_per_mtok,
            output_per_mtok=output_per_mtok,
            cache_read_per_mtok=cache_read_per_mtok,
            cache_write_per_mtok=cache_write_per_mtok,
            reasoning_per_mtok=reasoning_per_mtok,
            provider=provider,
            effective_from=zoned(effective_from),
            effective_to=zoned(effective_to),
            note=note,
        )
    emit(
        override,
        as_json=as_json,
        columns=["id", "model", "input_per_mtok", "output_per_mtok", "effective_from"],
    )


@prices.command()
@click.argument("override_id", type=int)
@pass_state
def remove(state: CliState, override_id: int) -> None:
    """Remove override OVERRIDE_ID (costs recorded with it keep it)."""
    with state.client() as client:
        client.prices.remove(override_id)
    console.print(f"Removed price override {override_id}.")


@prices.command()
@click.argument("model")
@click.option(
    "--input-tokens", type=int, default=1_000_000, show_default=True, help="Input tokens."
)
@click.option("--output-tokens", type=int, default=0, show_default=True, help="Output tokens.")
@click.option("--provider", help="The provider, if the model name alone is ambiguous.")
@json_option
@pass_state
def quote(
    state: CliState,
    model: str,
    input_tokens: int,
    output_tokens: int,
    provider: str | None,
    as_json: bool,
) -> None:
    """What a call to MODEL with these token counts costs now."""
    with state.client() as client:
        result = client.prices.quote(
            model, input_tokens=input_tokens, output_tokens=output_tokens, provider=provider
        )
    if as_json:
        print_json(result)
    elif result.usd is None:
        console.print(f"No price known for {model!r}: set one with `corral prices set`.")
    else:
        console.print(f"${result.usd:,.6f} ({result.price_version})")
