"""Rollouts by hand: pause, resume, promote and abort at any time; refusals with clear codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

import corral
from corral.core.clock import ManualClock
from tests.server.world import World, as_key, build_world

BASE = {"model": "gpt-4o-mini", "system_prompt": "You help."}
STEPS = [{"weight": 10, "min_minutes": 5}, {"weight": 50, "min_minutes": 5}]


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    built = build_world(http, admin)
    admin.agents.create_version("bot", config=BASE)
    admin.agents.deploy("bot", 1)
    admin.agents.create_version("bot", changes={"model": "gpt-4o"})
    return built


def test_pause_resume_promote(world: World, clock: ManualClock) -> None:
    rollouts = world.admin.agents.rollouts
    started = rollouts.start("bot", 2, steps=STEPS)
    assert [r.id for r in rollouts.list("bot")] == [started.id]
    paused = rollouts.pause("bot", started.id, reason="weekend")
    assert paused.status == "paused"
    # A paused rollout is not judged, however long it waits.
    clock.advance(timedelta(hours=3))
    assert rollouts.analyze("bot", started.id).status == "paused"
    with pytest.raises(corral.Conflict) as twice:
        rollouts.pause("bot", started.id)
    assert twice.value.code == "illegal_rollout_action"
    resumed = rollouts.resume("bot", started.id)
    assert resumed.status == "running"
    assert resumed.step_started_at == clock.now()
    promoted = rollouts.promote("bot", started.id, reason="looks good")
    assert promoted.status == "succeeded"
    assert promoted.reason == "promoted by hand: looks good"
    deployment = world.admin.agents.deployments("bot")[0]
    assert (deployment.active_version, deployment.canary_version) == (2, None)
    assert world.admin.agents.version("bot", 1).state == "deprecated"
    assert rollouts.list("bot", status="running") == []
    with pytest.raises(corral.Conflict) as finished:
        rollouts.abort("bot", started.id)
    assert finished.value.code == "illegal_rollout_action"
    actions = [e.action for e in world.admin.audit.list(limit=100)]
    assert {"rollout.start", "rollout.pause", "rollout.resume", "rollout.promote"} <= set(actions)


def test_abort_by_hand_and_one_rollout_at_a_time(world: World) -> None:
    agents = world.admin.agents
    started = agents.rollouts.start("bot", 2, steps=STEPS)
    agents.create_version("bot", changes={"model": "gpt-4.1"})
    with pytest.raises(corral.Conflict) as busy:
        agents.rollouts.start("bot", 3, steps=STEPS)
    assert busy.value.code == "rollout_in_progress"
    with pytest.raises(corral.Conflict) as canary:
        agents.deploy("bot", 3, canary_weight=5)
    assert canary.value.code == "canary_in_progress"
    aborted = agents.rollouts.abort("bot", started.id, reason="wrong model")
    assert (aborted.status, aborted.reason) == ("aborted", "aborted by hand: wrong model")
    assert agents.version("bot", 2).state == "aborted"
    assert agents.deployments("bot")[0].canary_weight == 0
    # Manual aborts raise no alert: a person decided.
    assert not [a for a in world.admin.alerts.list() if a.kind == "rollout_aborted"]
    assert agents.rollouts.start("bot", 3, steps=STEPS).status == "running"


def test_a_canary_nobody_used_fails(world: World, clock: ManualClock) -> None:
    rollouts = world.admin.agents.rollouts
    started = rollouts.start("bot", 2, steps=STEPS)
    clock.advance(timedelta(minutes=5))
    done = rollouts.analyze("bot", started.id)
    assert done.status == "aborted"
    assert done.results[0].failures == [
        "too few canary sessions: 0 < 20",
        "too few stable sessions: 0 < 20",
    ]
    assert [a.kind for a in world.admin.alerts.list()] == ["rollout_aborted"]


def test_a_rollback_ends_the_rollout(world: World) -> None:
    agents = world.admin.agents
    agents.deploy("bot", 2)
    agents.create_version("bot", changes={"model": "gpt-4.1"})
    started = agents.rollouts.start("bot", 3, steps=STEPS)
    assert agents.rollback("bot", reason="bad idea").active_version == 1
    ended = agents.rollouts.get("bot", started.id)
    assert (ended.status, ended.reason) == ("aborted", "rollback: bad idea")
    assert agents.version("bot", 3).state == "aborted"


def test_refusals(world: World, http: TestClient) -> None:
    rollouts = world.admin.agents.rollouts
    with pytest.raises(corral.NotFound) as missing:
        rollouts.get("bot", 999)
    assert missing.value.code == "rollout_not_found"
    with pytest.raises(corral.Conflict) as active:
        rollouts.start("bot", 1, steps=STEPS)
    assert active.value.code == "illegal_transition"
    with pytest.raises(corral.InvalidRequest):
        rollouts.start("bot", 2, steps=[{"weight": 50}, {"weight": 20}])
    with pytest.raises(corral.InvalidRequest) as nowhere:
        rollouts.start("bot", 2, environment="staging", steps=STEPS)
    assert nowhere.value.code == "no_active_version"
    started = rollouts.start("bot", 2, steps=STEPS)
    viewer = as_key(http, world.viewer_key)
    assert viewer.agents.rollouts.get("bot", started.id).status == "running"
    with pytest.raises(corral.Forbidden):
        viewer.agents.rollouts.abort("bot", started.id)
