"""Entry point of the ``corral`` command."""

from __future__ import annotations

import click

from corral import __version__
from corral.cli import (
    account,
    agents,
    alerts,
    audit,
    budgets,
    costs,
    db,
    evaluation,
    fake_llm,
    findings,
    keys,
    lifecycle,
    mcp,
    memory,
    open_project,
    openapi,
    policies,
    projects,
    providers,
    rollouts,
    serve,
    sessions,
    traces,
    users,
)
from corral.cli.context import CliState


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="corral")
@click.option("--url", envvar="CORRAL_URL", help="Server URL (default: saved login, then local).")
@click.option("--api-key", envvar="CORRAL_API_KEY", help="API key (default: saved login).")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None) -> None:
    """Corral: the control plane for AI agents in production."""
    ctx.obj = CliState(url=url, api_key=api_key)


cli.add_command(serve.serve)
cli.add_command(db.db)
cli.add_command(account.login)
cli.add_command(account.logout)
cli.add_command(account.status)
cli.add_command(projects.projects)
cli.add_command(agents.agents)
cli.add_command(keys.keys)
cli.add_command(users.users)
cli.add_command(openapi.openapi)
cli.add_command(policies.policies)
cli.add_command(audit.audit)
cli.add_command(alerts.alerts)
cli.add_command(fake_llm.fake_llm)
cli.add_command(budgets.budgets)
cli.add_command(costs.costs)
cli.add_command(costs.prices)
cli.add_command(providers.providers)
agents.agents.add_command(lifecycle.versions)
agents.agents.add_command(lifecycle.deployments)
agents.agents.add_command(lifecycle.resolve)
cli.add_command(lifecycle.deploy)
cli.add_command(lifecycle.rollback)
cli.add_command(rollouts.rollout)
cli.add_command(traces.traces)
cli.add_command(sessions.sessions)
cli.add_command(memory.memory)
cli.add_command(open_project.open_)
cli.add_command(mcp.mcp)
cli.add_command(findings.findings)
cli.add_command(evaluation.eval_)


def main() -> None:
    cli(prog_name="corral")
