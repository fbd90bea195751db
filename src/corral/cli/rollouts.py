"""``corral rollout``: staged canary rollouts with their per-step analysis."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from corral.cli.context import CliState, pass_state
from corral.cli.lifecycle import ENVIRONMENT, REASON
from corral.cli.output import console, emit, json_option, print_json
from corral.schemas.lifecycle import ArmMetrics, Rollout, StepResult

ROLLOUT_COLUMNS = [
    "id",
    "environment",
    "version",
    "stable_version",
    "status",
    "step",
    "step_started_at",
    "reason",
    "created_by",
    "created_at",
    "finished_at",
]
LIST_COLUMNS = ["id", "environment", "version", "stable_version", "status", "step", "created_at"]


def parse_step(text: str) -> dict[str, Any]:
    """``WEIGHT[:MINUTES[:SESSIONS]]``, e.g. ``25:30`` or ``50:60:200`` or ``10::100``."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3:
        raise click.UsageError(f"--step takes WEIGHT[:MINUTES[:SESSIONS]], not {text!r}")
    try:
        step: dict[str, Any] = {"weight": float(parts[0])}
        if len(parts) > 1:
            step["min_minutes"] = float(parts[1]) if parts[1] else None
        if len(parts) > 2 and parts[2]:
            step["min_sessions"] = int(parts[2])
    except ValueError as exc:
        raise click.UsageError(f"--step takes numbers: {text!r}") from exc
    return step


def parse_thresholds(pairs: tuple[str, ...]) -> dict[str, Any]:
    analysis: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--threshold takes NAME=VALUE, not {pair!r}")
        try:
            analysis[name] = json.loads(raw)
        except ValueError as exc:
            raise click.UsageError(f"--threshold {name} needs a number, not {raw!r}") from exc
    return analysis


def _metric(value: float | None, digits: str = ".3g") -> str:
    return "no data" if value is None else format(value, digits)


def _arm(metrics: ArmMetrics) -> str:
    return (
        f"{metrics.sessions} sessions, errors {_metric(metrics.error_rate)}, "
        f"findings {_metric(metrics.finding_rate)}, "
        f"cost/session {_metric(metrics.cost_per_session)}, "
        f"p95 {_metric(metrics.latency_p95_ms, '.0f')} ms"
    )


def print_rollout(rollout: Rollout) -> None:
    """The rollout, then one row per step with its verdict and the two arms' metrics."""
    emit(rollout, as_json=False, columns=ROLLOUT_COLUMNS)
    judged: dict[int, StepResult] = {r.step: r for r in rollout.results}
    table = Table(title="steps", title_justify="left")
    for name in ("step", "weight", "wait", "verdict", "canary", "stable", "why"):
        table.add_column(name)
    for number, step in enumerate(rollout.steps, start=1):
        wait = " and ".join(
            part
            for part in (
                f"{step.min_minutes:g} min" if step.min_minutes is not None else "",
                f"{step.min_sessions} sessions" if step.min_sessions else "",
            )
            if part
        )
        result = judged.get(number)
        if result is None and rollout.live is not None and rollout.live.step == number:
            result, verdict = rollout.live, "in progress"
        elif result is None:
            verdict = "-"
        else:
            verdict = "passed" if result.passed else "failed"
        table.add_row(
            str(number),
            f"{step.weight:g} %",
            wait,
            verdict,
            _arm(result.canary) if result else "",
            _arm(result.stable) if result else "",
            "; ".join(result.failures) if result and verdict != "passed" else "",
        )
    console.print(table)


@click.group()
def rollout() -> None:
    """Staged canary rollouts, judged step by step against the stable version."""


@rollout.command()
@click.argument("agent")
@click.argument("version", type=int)
@ENVIRONMENT
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="WEIGHT[:MINUTES[:SESSIONS]]",
    help="A step: canary weight in %, minimum minutes, minimum canary sessions (repeatable, "
    "weights growing). Default: 5, 25, 50, 100 % for 30 minutes each.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="NAME=VALUE",
    help="An analysis setting, e.g. max_error_rate_ratio=2 or min_sessions=50 (repeatable).",
)
@json_option
@pass_state
def start(
    state: CliState,
    agent: str,
    version: int,
    environment: str,
    steps: tuple[str, ...],
    thresholds: tuple[str, ...],
    as_json: bool,
) -> None:
    """Roll VERSION of AGENT out as a canary beside the active version."""
    with state.client() as client:
        started = client.agents.rollouts.start(
            agent,
            version,
            environment=environment,
            steps=[parse_step(s) for s in steps] or None,
            analysis=parse_thresholds(thresholds) or None,
        )
    if as_json:
        print_json(started)
        return
    print_rollout(started)


@rollout.command("list")
@click.argument("agent")
@click.option(
    "--status", type=click.Choice(["running", "paused", "succeeded", "aborted"]), help="Only these."
)
@json_option
@pass_state
def list_(state: CliState, agent: str, status: str | None, as_json: bool) -> None:
    """AGENT's rollouts, newest first."""
    with state.client() as client:
        emit(
            client.agents.rollouts.list(agent, status=status),
            as_json=as_json,
            columns=LIST_COLUMNS,
            empty=f"{agent} has no rollouts: `corral rollout start {agent} VERSION`.",
        )


@rollout.command()
@click.argument("agent")
@click.argument("rollout_id", metavar="[ROLLOUT]", type=int, required=False)
@click.option("--analyze", is_flag=True, help="Judge the current step now if it is due.")
@json_option
@pass_state
def status(
    state: CliState, agent: str, rollout_id: int | None, analyze: bool, as_json: bool
) -> None:
    """A rollout of AGENT (default: the newest) with the analysis of every step."""
    with state.client() as client:
        if rollout_id is None:
            newest = client.agents.rollouts.list(agent)
            if not newest:
                raise click.ClickException(f"{agent} has no rollouts.")
            rollout_id = newest[0].id
        shown = (
            client.agents.rollouts.analyze(agent, rollout_id)
            if analyze
            else client.agents.rollouts.get(agent, rollout_id)
        )
    if as_json:
        print_json(shown)
        return
    print_rollout(shown)


def _action(verb: str, summary: str) -> click.Command:
    @click.argument("agent")
    @click.argument("rollout_id", metavar="ROLLOUT", type=int)
    @REASON
    @json_option
    @pass_state
    def command(state: CliState, agent: str, rollout_id: int, reason: str, as_json: bool) -> None:
        with state.client() as client:
            changed = getattr(client.agents.rollouts, verb)(agent, rollout_id, reason=reason)
        emit(changed, as_json=as_json, columns=ROLLOUT_COLUMNS)

    command.__doc__ = summary
    return rollout.command(verb)(command)


pause = _action("pause", "Stop judging ROLLOUT of AGENT; the canary keeps its weight.")
resume = _action("resume", "Judge ROLLOUT of AGENT again; its current step starts over.")
promote = _action("promote", "Make the canary of ROLLOUT the active version of AGENT now.")
abort = _action("abort", "Take the canary of ROLLOUT out now: weight 0, version aborted.")
