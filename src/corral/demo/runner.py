"""``corral demo`` end to end: serve, set up, run the fleet, report, and wait for Ctrl-C."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import corral
from corral.cli import config as cli_config
from corral.demo.canary import CanaryRun, canary_story, canary_versions
from corral.demo.model import fleet_script
from corral.demo.scenario import ROUTINE, Task, opening
from corral.demo.servers import DemoServers, demo_servers
from corral.demo.world import PROJECTS, DemoState, DemoWorld, build_world, key_works
from corral.examples.fleet import TaskOutcome, Team
from corral.settings import Settings
from corral.testing.fake_llm import FakeLLM, create_fake_llm

EXPECTED_FINDINGS = (
    "handoff_cycle",
    "refetch",
    "contradiction",
    "ignored_tool_error",
    "runaway",
    "tool_loop",
)
"""A finding of each kind the injected failures produce."""


@dataclass(frozen=True)
class DemoOptions:
    duration: float = 180.0
    """Seconds the fleet works for (the ordinary work is paced to fill them)."""
    quick: bool = False
    """A short run: a few ordinary tasks, every incident, both canaries; no pacing."""
    exit_when_done: bool = False
    new_password: bool = False
    save_login: bool = False
    """Log the CLI on this machine in with the demo's admin key, if it is not logged in yet."""


@dataclass
class DemoReport:
    """What a run did: for the summary printed at the end, and for tests."""

    world: DemoWorld | None = None
    outcomes: list[TaskOutcome] = field(default_factory=list)
    canaries: list[CanaryRun] = field(default_factory=list)
    findings: Counter[str] = field(default_factory=Counter)
    halted_sessions: list[str] = field(default_factory=list)


Step = tuple[str, Callable[[], None]]


def run_demo(
    settings: Settings,
    options: DemoOptions,
    *,
    console: Console | None = None,
    ready: Callable[[DemoReport], None] | None = None,
) -> DemoReport:
    """Run the demo; returns when the fleet is done (``exit_when_done``) or on Ctrl-C."""
    console = console or Console(stderr=True)
    # Warnings only: the progress bar is the demo's output. (Set before the server is built,
    # so libraries that configure logging when unconfigured leave it alone.)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = DemoReport()
    state = DemoState.load(settings.home)
    fake = FakeLLM(fleet_script())
    # The demo judges its rollouts itself, as soon as both versions have served enough sessions;
    # the server's own analysis job would otherwise judge a step on its schedule, possibly while
    # the stable side is still short of sessions (which fails the step).
    settings = settings.model_copy(update={"rollout_interval_seconds": 3600.0})
    try:
        with demo_servers(settings, fake_llm_app=create_fake_llm(fake)) as servers:
            admin_key = _admin_key(servers, state)
            with corral.Client(url=servers.url, api_key=admin_key) as admin:
                report.world = build_world(
                    admin, state, fake_url=servers.fake_url, new_password=options.new_password
                )
                _announce(console, servers, report.world, save_login=options.save_login)
                team = Team(url=servers.url, keys=report.world.agent_keys)
                try:
                    _drive(console, admin, team, options, report)
                finally:
                    team.close()
                    corral.shutdown()
                _summarize(console, report)
                if ready is not None:
                    ready(report)
                if not options.exit_when_done:
                    console.print(
                        f"\nThe console stays up at [bold]{servers.url}/console[/bold]; "
                        "press Ctrl-C to stop."
                    )
                    threading.Event().wait()
    except KeyboardInterrupt:
        console.print("\nStopping the demo.")
    finally:
        corral.shutdown()
    return report


def _admin_key(servers: DemoServers, state: DemoState) -> str:
    """The workspace's first key when this run created it; the saved demo key; else a new
    admin key minted in the database (the workspace was made by ``corral serve``)."""
    if servers.new_admin_key:
        state.admin_key = servers.new_admin_key
    elif not key_works(servers.url, state.admin_key):
        state.admin_key = servers.mint_admin_key()
    state.save()
    assert state.admin_key is not None
    return state.admin_key


def _announce(
    console: Console, servers: DemoServers, world: DemoWorld, *, save_login: bool
) -> None:
    console.print(f"\n[bold]Corral[/bold] is running at [bold]{servers.url}[/bold]")
    console.print(f"  console:  [bold]{servers.url}/console[/bold]")
    if world.password:
        console.print(
            f"  login:    {world.login}   password: [bold green]{world.password}[/bold green]"
            "  (shown only this once)"
        )
    else:
        console.print(
            f"  login:    {world.login} with the password shown on the first run "
            "(`corral demo --new-password` sets a new one)"
        )
    console.print(
        f"  admin API key for the CLI and SDK: [bold]{world.admin_key}[/bold] "
        "(kept in demo.json under CORRAL_HOME)"
    )
    if save_login and not cli_config.load_saved():
        path = cli_config.save(servers.url, world.admin_key)
        console.print(f"  the CLI on this machine is logged in with it ({path})")
    made = ", ".join(world.created) if world.created else "nothing new (already set up)"
    console.print(f"  set up: {made}\n")


def _plan(admin: corral.Client, team: Team, options: DemoOptions, report: DemoReport) -> list[Step]:
    steps: list[Step] = [
        (task.label, _task_step(team, task, report)) for task in opening(options.quick)
    ]
    versions = canary_versions(admin)
    if versions is not None:

        def canaries() -> None:
            report.canaries = canary_story(
                admin,
                team,
                versions,
                sessions=3 if options.quick else 6,
                settle=lambda: _settle(admin),
            )

        steps.append(("reviewer canaries: one aborted, one promoted", canaries))
    if not options.quick:
        # Ordinary work fills the rest of the run, one task every few seconds.
        rounds = max(0, int(options.duration // 4) - len(steps))
        steps += [
            (ROUTINE[i % len(ROUTINE)].label, _task_step(team, ROUTINE[i % len(ROUTINE)], report))
            for i in range(rounds)
        ]
    return steps


def _task_step(team: Team, task: Task, report: DemoReport) -> Callable[[], None]:
    def run() -> None:
        report.outcomes.append(team.run_task(task.text, project=task.project, user=task.user))

    return run


def _drive(
    console: Console, admin: corral.Client, team: Team, options: DemoOptions, report: DemoReport
) -> None:
    steps = _plan(admin, team, options, report)
    pace = 0.0 if options.quick else options.duration / max(1, len(steps))
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("the fleet at work", total=len(steps))
        for label, step in steps:
            started = time.monotonic()
            progress.update(bar, description=_short(label))
            step()
            progress.advance(bar)
            time.sleep(max(0.0, pace - (time.monotonic() - started)))
        progress.update(bar, description="waiting for the last findings")
        _settle(admin, want=EXPECTED_FINDINGS)
        progress.update(bar, description="the fleet is done")
    for project in PROJECTS:
        for finding in admin.findings.list(project, limit=500):
            report.findings[finding.type] += 1
        report.halted_sessions += [h.session_id for h in admin.sessions.halts(project)]


def _settle(admin: corral.Client, want: tuple[str, ...] = (), timeout: float = 20.0) -> None:
    """Wait until the spans sent so far are in and judged: the tracing SDK exports in the
    background and detection runs as spans arrive."""
    corral.flush()
    deadline = time.monotonic() + timeout
    while want and time.monotonic() < deadline:
        seen = {f.type for project in PROJECTS for f in admin.findings.list(project, limit=500)}
        if all(kind in seen for kind in want):
            return
        time.sleep(0.25)
    if not want:
        time.sleep(0.5)


def _short(label: str, width: int = 60) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _summarize(console: Console, report: DemoReport) -> None:
    outcomes = Counter(o.refusal or o.status for o in report.outcomes)
    console.print(
        f"\n{len(report.outcomes)} tasks: "
        + ", ".join(f"{count} {what}" for what, count in sorted(outcomes.items()))
    )
    if report.findings:
        console.print(
            "Findings so far: "
            + ", ".join(f"{count} {kind}" for kind, count in sorted(report.findings.items()))
        )
    if report.halted_sessions:
        console.print(f"Sessions halted by the circuit breaker: {len(report.halted_sessions)}")
    for run in report.canaries:
        console.print(
            f"Reviewer v{run.version} rolled out to 50 % of sessions: {run.outcome} ({run.figures})"
        )
    console.print(
        "\nWhere to look: Overview for the fleet, Findings for what went wrong, Audit for every "
        "decision. From a terminal: `corral findings list acme`, `corral costs --by agent`."
    )
