"""``corral alerts``: incidents, alert rules and webhook deliveries."""

from __future__ import annotations

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json

COLUMNS = ["id", "kind", "severity", "status", "title", "project", "count", "last_at"]
RULE_COLUMNS = ["id", "name", "project", "kinds", "webhook_url", "renotify_minutes", "enabled"]


@click.group()
def alerts() -> None:
    """Incidents raised by findings, budgets, rollouts and metric rules, and where they go."""


@alerts.command("list")
@click.option(
    "--status",
    type=click.Choice(["open", "acknowledged", "resolved"]),
    help="Only incidents in this state.",
)
@json_option
@pass_state
def list_(state: CliState, status: str | None, as_json: bool) -> None:
    """Incidents you can see, newest first."""
    with state.client() as client:
        emit(
            client.alerts.list(status=status), as_json=as_json, columns=COLUMNS, empty="No alerts."
        )


@alerts.command()
@click.argument("alert_id", type=int)
@json_option
@pass_state
def ack(state: CliState, alert_id: int, as_json: bool) -> None:
    """Acknowledge incident ALERT_ID."""
    with state.client() as client:
        emit(client.alerts.acknowledge(alert_id), as_json=as_json, columns=COLUMNS)


@alerts.command()
@click.argument("alert_id", type=int)
@json_option
@pass_state
def resolve(state: CliState, alert_id: int, as_json: bool) -> None:
    """Resolve incident ALERT_ID (raised again, it reopens)."""
    with state.client() as client:
        emit(client.alerts.resolve(alert_id), as_json=as_json, columns=COLUMNS)


@alerts.command()
@json_option
@pass_state
def rules(state: CliState, as_json: bool) -> None:
    """Alert rules you can see."""
    with state.client() as client:
        emit(client.alerts.rules(), as_json=as_json, columns=RULE_COLUMNS, empty="No alert rules.")


@alerts.command("add-rule")
@click.argument("name")
@click.option("--project", help="Only incidents of this project.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["finding", "budget_threshold", "rollout_aborted", "metric"]),
    help="Incident kinds to route (repeatable; default all).",
)
@click.option("--finding-type", "types", multiple=True, help="Only these finding types.")
@click.option(
    "--min-severity",
    type=click.Choice(["info", "warning", "critical"]),
    help="Only incidents at least this severe.",
)
@click.option("--agent", "agents", multiple=True, help="Only incidents about these agents.")
@click.option(
    "--metric",
    type=click.Choice(["cost_usd", "error_rate", "latency_p95_ms", "finding_rate"]),
    help="Also raise an incident when this metric is over --threshold.",
)
@click.option("--threshold", type=float, help="Threshold of --metric.")
@click.option(
    "--window-minutes",
    type=int,
    default=15,
    show_default=True,
    help="Window --metric is computed over.",
)
@click.option("--webhook", "webhook_url", help="POST incidents here (signed with HMAC-SHA256).")
@click.option("--renotify-minutes", type=int, help="Notify an open incident again after this.")
@json_option
@pass_state
def add_rule(
    state: CliState,
    name: str,
    project: str | None,
    kinds: tuple[str, ...],
    types: tuple[str, ...],
    min_severity: str | None,
    agents: tuple[str, ...],
    metric: str | None,
    threshold: float | None,
    window_minutes: int,
    webhook_url: str | None,
    renotify_minutes: int | None,
    as_json: bool,
) -> None:
    """Create alert rule NAME. With --webhook, prints the signing secret once."""
    if (metric is None) != (threshold is None):
        raise click.UsageError("--metric and --threshold go together")
    match = {
        k: v
        for k, v in {
            "types": list(types) or None,
            "min_severity": min_severity,
            "agents": list(agents) or None,
        }.items()
        if v
    }
    condition = (
        {"name": metric, "threshold": threshold, "window_minutes": window_minutes}
        if metric
        else None
    )
    with state.client() as client:
        created = client.alerts.create_rule(
            name,
            project=project,
            kinds=list(kinds) or None,
            match=match or None,
            metric=condition,
            webhook_url=webhook_url,
            renotify_minutes=renotify_minutes,
        )
    if as_json:
        print_json(created)
        return
    emit(created, as_json=False, columns=RULE_COLUMNS)
    if created.signing_secret:
        console.print("\nWebhook signing secret (shown only now):")
        click.echo(created.signing_secret)


@alerts.command("remove-rule")
@click.argument("rule_id", type=int)
@pass_state
def remove_rule(state: CliState, rule_id: int) -> None:
    """Delete alert rule RULE_ID."""
    with state.client() as client:
        client.alerts.delete_rule(rule_id)
    console.print(f"Removed alert rule {rule_id}.")


@alerts.command()
@json_option
@pass_state
def deliveries(state: CliState, as_json: bool) -> None:
    """Webhook deliveries and their attempts, newest first (workspace admins)."""
    with state.client() as client:
        emit(
            client.alerts.deliveries(),
            as_json=as_json,
            columns=[
                "id",
                "rule_id",
                "alert_id",
                "status",
                "attempts",
                "response_status",
                "last_error",
                "next_attempt_at",
            ],
            empty="No webhook deliveries.",
        )
