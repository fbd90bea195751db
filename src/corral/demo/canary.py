"""The canary part of the demo: two new reviewer versions tried on a share of sessions — the
first makes things worse and is aborted, the second is promoted.

The analysis compares the canary's sessions with the stable version's over the same stretch of
work, the way Corral's rollout analysis does: a canary whose sessions have a higher rate of
silent-failure findings than stable's (or that nobody used) fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import corral
from corral.demo.model import CANARY_PROMPT
from corral.demo.scenario import CANARY_TASK
from corral.demo.world import version_config
from corral.examples.fleet import Team

AGENT = "reviewer"
PROJECT = "acme"


@dataclass
class CanaryRun:
    """One canary: the sessions each version served, their finding rates, what became of it."""

    version: int
    outcome: str = "running"
    canary_sessions: list[str] = field(default_factory=list)
    stable_sessions: list[str] = field(default_factory=list)
    canary_finding_rate: float = 0.0
    stable_finding_rate: float = 0.0

    @property
    def failed(self) -> bool:
        """No canary session, or more of them with findings than stable's: not verified."""
        return not self.canary_sessions or self.canary_finding_rate > self.stable_finding_rate

    @property
    def figures(self) -> str:
        return (
            f"sessions with findings: canary {self.canary_finding_rate:.0%} of "
            f"{len(self.canary_sessions)}, stable {self.stable_finding_rate:.0%} of "
            f"{len(self.stable_sessions)}"
        )


def canary_versions(admin: corral.Client) -> tuple[int, int] | None:
    """Create the two new reviewer versions, unless an earlier run did (then None)."""
    if len(admin.agents.versions(AGENT)) > 1:
        return None
    stricter = admin.agents.create_version(
        AGENT,
        config=version_config(
            AGENT,
            model="gpt-4o",
            system_prompt=f"{version_config(AGENT)['system_prompt']} {CANARY_PROMPT}",
        ),
        note="stricter reviews on a larger model",
    )
    tidier = admin.agents.create_version(
        AGENT,
        config=version_config(AGENT, parameters={"temperature": 0.0}),
        note="deterministic reviews",
    )
    return stricter.number, tidier.number


def canary_story(
    admin: corral.Client,
    team: Team,
    versions: tuple[int, int],
    *,
    sessions: int,
    settle: Callable[[], None],
    on_task: Callable[[str], None] = lambda label: None,
) -> list[CanaryRun]:
    """Try the first version as a canary (it fails its analysis), then the second (promoted)."""
    first, second = versions
    worse = _try(admin, team, first, sessions, settle, on_task)
    # The second canary takes the first one's place in the deployment; once it no longer
    # serves, the first can be marked aborted (a serving version cannot be, by hand).
    admin.agents.deploy(AGENT, second, canary_weight=50, reason="try it on half the sessions")
    if worse.failed:
        admin.agents.transition(AGENT, first, "aborted", reason=f"analysis failed: {worse.figures}")
        worse.outcome = "aborted"
    better = _try(admin, team, second, sessions, settle, on_task)
    if better.failed:
        admin.agents.deploy(AGENT, _active(admin), reason=f"analysis failed: {better.figures}")
        better.outcome = "kept as canary"
    else:
        admin.agents.deploy(AGENT, second, reason=f"analysis passed: {better.figures}")
        better.outcome = "promoted"
    return [worse, better]


def _active(admin: corral.Client) -> int:
    deployment = next(d for d in admin.agents.deployments(AGENT) if d.environment == "production")
    assert deployment.active_version is not None
    return deployment.active_version


def _try(
    admin: corral.Client,
    team: Team,
    version: int,
    sessions: int,
    settle: Callable[[], None],
    on_task: Callable[[str], None],
) -> CanaryRun:
    """Serve ``version`` to half of the new sessions; run tasks until both versions served
    ``sessions`` of them; compare their finding rates."""
    admin.agents.deploy(AGENT, version, canary_weight=50, reason="try it on half the sessions")
    run = CanaryRun(version=version)
    for _ in range(sessions * 6):
        if len(run.canary_sessions) >= sessions and len(run.stable_sessions) >= sessions:
            break
        on_task(f"{PROJECT}: {CANARY_TASK.title} (reviewer v{version} as canary)")
        outcome = team.run_task(CANARY_TASK.text, project=PROJECT, user=CANARY_TASK.user)
        served = admin.agents.resolve(AGENT, session=outcome.session)
        group = run.canary_sessions if served.canary else run.stable_sessions
        group.append(outcome.session)
    settle()
    run.canary_finding_rate = _finding_rate(admin, run.canary_sessions)
    run.stable_finding_rate = _finding_rate(admin, run.stable_sessions)
    return run


def _finding_rate(admin: corral.Client, sessions: list[str]) -> float:
    if not sessions:
        return 0.0
    flagged = sum(1 for s in sessions if admin.findings.list(PROJECT, session=s, limit=1))
    return flagged / len(sessions)
