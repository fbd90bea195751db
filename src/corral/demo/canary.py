"""The canary part of the demo: two new reviewer versions rolled out to half of the new
sessions. Corral's rollout analysis compares each with the stable version: the first one costs
more and makes the reviewer loop, and is aborted; the second is as good as stable, and promoted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import corral
from corral.demo.model import CANARY_PROMPT
from corral.demo.scenario import CANARY_TASK
from corral.demo.world import version_config
from corral.examples.fleet import Team
from corral.schemas.lifecycle import Rollout

AGENT = "reviewer"
PROJECT = "acme"


@dataclass
class CanaryRun:
    """One rollout and what became of it."""

    version: int
    rollout: int
    outcome: str
    """``promoted``, ``aborted``, or the rollout's status if it did not finish."""
    failures: list[str] = field(default_factory=list)
    canary_sessions: int = 0
    stable_sessions: int = 0

    @property
    def figures(self) -> str:
        sides = f"{self.canary_sessions} canary and {self.stable_sessions} stable sessions"
        return f"{sides}; " + ("; ".join(self.failures) if self.failures else "no regression")


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
    steadier = admin.agents.create_version(
        AGENT,
        config=version_config(AGENT, parameters={"temperature": 0.0}),
        note="deterministic reviews",
    )
    return stricter.number, steadier.number


def canary_story(
    admin: corral.Client,
    team: Team,
    versions: tuple[int, int],
    *,
    sessions: int,
    settle: Callable[[], None],
    on_task: Callable[[str], None] = lambda label: None,
) -> list[CanaryRun]:
    """Roll out each version in turn while the team works."""
    return [
        roll_out(admin, team, version, sessions=sessions, settle=settle, on_task=on_task)
        for version in versions
    ]


def roll_out(
    admin: corral.Client,
    team: Team,
    version: int,
    *,
    sessions: int,
    settle: Callable[[], None],
    on_task: Callable[[str], None],
) -> CanaryRun:
    """One step at 50 %, judged once both versions have served ``sessions`` sessions.

    Latency is allowed more slack than the default: on a demo's fake model it is mostly noise.
    """
    rollouts = admin.agents.rollouts
    rollout = rollouts.start(
        AGENT,
        version,
        steps=[{"weight": 50, "min_minutes": None, "min_sessions": sessions}],
        analysis={"min_sessions": sessions, "max_latency_p95_ratio": 20.0},
    )
    for _ in range(sessions * 8):
        on_task(f"{PROJECT}: {CANARY_TASK.title} (reviewer v{version} on 50 %)")
        team.run_task(CANARY_TASK.text, project=PROJECT, user=CANARY_TASK.user)
        rollout = rollouts.get(AGENT, rollout.id)
        live = rollout.live
        if live is not None and min(live.canary.sessions, live.stable.sessions) >= sessions:
            settle()  # the last sessions' spans and findings are in
            rollout = rollouts.analyze(AGENT, rollout.id)
        if rollout.status != "running":
            break
    else:
        rollout = rollouts.abort(AGENT, rollout.id, reason="the demo ran out of sessions")
    return _describe(rollout)


def _describe(rollout: Rollout) -> CanaryRun:
    run = CanaryRun(
        version=rollout.version,
        rollout=rollout.id,
        outcome={"succeeded": "promoted"}.get(rollout.status, rollout.status),
    )
    if rollout.results:
        verdict = rollout.results[-1]
        run.failures = list(verdict.failures)
        run.canary_sessions, run.stable_sessions = verdict.canary.sessions, verdict.stable.sessions
    return run
