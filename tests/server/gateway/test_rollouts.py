"""Staged rollouts end to end: sessions call through the gateway, the canary is judged against
stable from the recorded spans, and the rollout aborts or promotes on its own."""

from __future__ import annotations

from datetime import timedelta

import openai

from corral.core.clock import ManualClock
from corral.core.console_agents import agent_summaries
from corral.core.deployments import canary_bucket
from corral.core.keys import authenticate
from corral.core.rollouts import evaluate_rollouts
from corral.core.runtime import Runtime
from corral.testing.fake_llm import FakeResponse, FakeRule
from tests.server.gateway.harness import Setup

STABLE = {"model": "gpt-4o-mini", "system_prompt": "You help shoppers."}
STEPS = [{"weight": 50, "min_minutes": 10}, {"weight": 100, "min_minutes": 10}]
ANALYSIS = {"min_sessions": 8}


def converse(setup: Setup, sessions: range, text: str = "where is my order {i}") -> int:
    """One call per session; how many the gateway answered with an error."""
    failed = 0
    for i in sessions:
        client = setup.openai(**{"x-corral-session": f"s-{i}"})
        try:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": text.format(i=i)}]
            )
        except openai.APIStatusError:
            failed += 1
    return failed


def audit_actions(setup: Setup) -> list[str]:
    return [e.action for e in setup.admin.audit.list(limit=500)]


def test_a_failing_canary_is_aborted_on_its_own(
    setup: Setup, clock: ManualClock, runtime: Runtime
) -> None:
    agents = setup.admin.agents
    agents.create_version("support", config=STABLE)
    agents.deploy("support", 1)
    agents.create_version("support", changes={"model": "gpt-4.1-mini"}, note="cheaper model")
    # The new model fails on every other request; stable fails only on one in ten.
    setup.fake.script.rules.insert(
        0,
        FakeRule(
            model="gpt-4.1-mini",
            match=r"[02468]$",
            respond=FakeResponse(error={"status": 500, "message": "model crashed"}),
        ),
    )
    rollout = agents.rollouts.start("support", 2, steps=STEPS, analysis=ANALYSIS)
    assert (rollout.status, rollout.step, rollout.stable_version) == ("running", 0, 1)
    assert agents.deployments("support")[0].canary_weight == 50

    clock.advance(timedelta(minutes=1))
    sessions = range(60)
    failed = converse(setup, sessions)
    failed += converse(setup, range(60, 66), "explode {i}")
    on_canary = [i for i in range(66) if canary_bucket("support", "production", f"s-{i}") < 50]
    assert 8 <= len(on_canary) <= 58
    assert failed > 0

    # Before the step's ten minutes are up, nothing is decided; the analysis so far is visible.
    clock.advance(timedelta(minutes=5))
    early = agents.rollouts.analyze("support", rollout.id)
    assert (early.status, early.results) == ("running", [])
    assert early.live is not None
    assert early.live.canary.sessions == len(on_canary)
    assert early.live.canary.error_rate is not None
    assert early.live.canary.error_rate > 0.3

    clock.advance(timedelta(minutes=5))
    verdicts = evaluate_rollouts(runtime)  # the background job's own function
    assert [(v.rollout_id, v.passed, v.status) for v in verdicts] == [
        (rollout.id, False, "aborted")
    ]
    done = agents.rollouts.get("support", rollout.id)
    assert done.status == "aborted"
    assert done.finished_at is not None
    (result,) = done.results
    assert not result.passed
    assert result.weight == 50
    assert result.failures[0].startswith("error rate")
    assert result.canary.sessions == len(on_canary)
    assert result.stable.sessions == 66 - len(on_canary)
    assert "step 1 failed: error rate" in done.reason

    deployment = agents.deployments("support")[0]
    assert (deployment.active_version, deployment.canary_version) == (1, None)
    assert deployment.canary_weight == 0
    assert agents.version("support", 2).state == "aborted"
    # Sessions that were on the canary go back to stable.
    assert agents.resolve("support", session=f"s-{on_canary[0]}").version == 1

    (alert,) = [a for a in setup.admin.alerts.list() if a.kind == "rollout_aborted"]
    assert alert.severity == "critical"
    assert alert.project == "shop"
    assert alert.details["version"] == 2
    assert alert.details["rollout"] == rollout.id
    assert "error rate" in alert.title

    actions = audit_actions(setup)
    assert {"rollout.start", "rollout.abort", "agent_version.transition"} <= set(actions)
    abort = next(e for e in setup.admin.audit.list(limit=500) if e.action == "rollout.abort")
    assert abort.actor_kind == "system"
    assert abort.details["automatic"] is True
    # Judging again changes nothing.
    assert evaluate_rollouts(runtime) == []


def test_a_healthy_canary_is_promoted_step_by_step(
    setup: Setup, clock: ManualClock, runtime: Runtime, admin_key: str
) -> None:
    agents = setup.admin.agents
    agents.create_version("support", config=STABLE)
    agents.deploy("support", 1)
    agents.create_version("support", changes={"system_prompt": "You help shoppers kindly."})
    rollout = agents.rollouts.start("support", 2, steps=STEPS, analysis=ANALYSIS)

    clock.advance(timedelta(minutes=1))
    assert converse(setup, range(60)) == 0
    clock.advance(timedelta(minutes=10))
    step_one = agents.rollouts.analyze("support", rollout.id)
    assert step_one.status == "running"
    assert step_one.step == 1
    assert step_one.results[0].passed
    assert step_one.results[0].failures == []
    assert agents.deployments("support")[0].canary_weight == 100

    # At 100 % every new session gets the canary; stable is judged over the whole rollout.
    clock.advance(timedelta(minutes=1))
    last_call = clock.now()
    assert converse(setup, range(100, 120)) == 0
    assert all(agents.resolve("support", session=f"s-{i}").version == 2 for i in range(100, 120))
    clock.advance(timedelta(minutes=9))
    assert [v.status for v in evaluate_rollouts(runtime)] == ["succeeded"]

    done = agents.rollouts.get("support", rollout.id)
    assert done.status == "succeeded"
    assert [r.passed for r in done.results] == [True, True]
    assert done.results[1].canary.sessions >= 20
    assert done.live is None
    deployment = agents.deployments("support")[0]
    assert (deployment.active_version, deployment.canary_version, deployment.previous_version) == (
        2,
        None,
        1,
    )
    assert agents.version("support", 2).state == "active"
    assert agents.version("support", 1).state == "deprecated"
    assert not [a for a in setup.admin.alerts.list() if a.kind == "rollout_aborted"]
    # What the console's Agents page lists.
    (summary,) = agent_summaries(runtime, authenticate(runtime, admin_key))
    assert summary.last_activity == last_call
    assert [(d.environment, d.active_version) for d in summary.deployments] == [("production", 2)]
    assert summary.rollouts == []
    actions = audit_actions(setup)
    assert actions.count("rollout.advance") == 1
    assert actions.count("rollout.promote") == 1
