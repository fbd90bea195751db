from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import corral
from corral.core.deployments import canary_bucket
from corral.core.runtime import Runtime
from corral.server.app import create_app
from tests.server.world import World, as_key, build_world

BASE = {"model": "gpt-4o-mini", "system_prompt": "You help.", "parameters": {"temperature": 0.2}}


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def test_versions_are_content_hashed_and_immutable(world: World) -> None:
    agents = world.admin.agents
    v1 = agents.create_version("bot", config=BASE, note="first")
    assert (v1.number, v1.state, len(v1.content_hash)) == (1, "candidate", 64)
    with pytest.raises(corral.Conflict) as same:
        agents.create_version("bot", config=BASE)
    assert (same.value.code, same.value.details["version"]) == ("identical_version", 1)
    v2 = agents.create_version(
        "bot", changes={"parameters": {"temperature": 0.7}, "tools": ["search"]}
    )
    assert (v2.base, v2.config.parameters, v2.config.tools) == (1, {"temperature": 0.7}, ["search"])
    assert v2.config.system_prompt == "You help."
    changes = {c.path: (c.before, c.after) for c in agents.diff("bot", 1, 2).changes}
    assert changes == {"parameters.temperature": (0.2, 0.7), "tools": (None, ["search"])}
    with pytest.raises(corral.Conflict) as frozen:
        agents.update_draft("bot", 1, note="rewrite history")
    assert frozen.value.code == "version_immutable"
    with pytest.raises(corral.InvalidRequest) as bad:
        agents.create_version("bot", changes={"parameters": "oops"})
    assert bad.value.code == "invalid_config"


def test_drafts_are_editable_then_frozen(world: World) -> None:
    agents = world.admin.agents
    draft = agents.create_version("bot", config=BASE, draft=True)
    edited = agents.update_draft(
        "bot", draft.number, config={**BASE, "model": "gpt-4o"}, note="bigger"
    )
    assert edited.content_hash != draft.content_hash
    with pytest.raises(corral.Conflict) as err:
        agents.deploy("bot", draft.number)
    assert err.value.code == "illegal_transition"
    assert agents.transition("bot", draft.number, "candidate").state == "candidate"
    with pytest.raises(corral.Conflict) as illegal:
        agents.transition("bot", draft.number, "deprecated")
    assert illegal.value.code == "illegal_transition"
    assert "from candidate: active, canary, retired" in illegal.value.message


def test_deploy_canary_is_sticky_and_near_its_weight(
    world: World, http: TestClient, runtime: Runtime
) -> None:
    agents = world.admin.agents
    agents.create_version("bot", config=BASE)
    agents.create_version("bot", changes={"model": "gpt-4o"})
    agents.deploy("bot", 1)
    deployment = agents.deploy("bot", 2, canary_weight=20)
    assert (deployment.active_version, deployment.canary_version, deployment.canary_weight) == (
        1,
        2,
        20,
    )
    sessions = [f"s-{i}" for i in range(1000)]
    first = {s: agents.resolve("bot", session=s).version for s in sessions[:400]}
    share = sum(v == 2 for v in first.values()) / 400
    assert 0.14 <= share <= 0.26
    assert all((v == 2) == (canary_bucket("bot", "production", s) < 20) for s, v in first.items())
    # A second replica (another app on the same database) gives every session the same answer.
    with TestClient(create_app(runtime=runtime)) as other:
        replica = as_key(other, world.agent_key)
        assert all(
            replica.agents.resolve("bot", session=s).version == v
            for s, v in list(first.items())[:100]
        )
    # Raising the weight moves only sessions that have not started yet.
    agents.deploy("bot", 2, canary_weight=60)
    assert all(agents.resolve("bot", session=s).version == v for s, v in first.items())
    later = [agents.resolve("bot", session=s).version for s in sessions[400:]]
    assert 0.5 <= sum(v == 2 for v in later) / len(later) <= 0.7
    assert agents.resolve("bot").version == 1  # no session: the active version


def test_rollback_drain_and_retirement(world: World) -> None:
    agents = world.admin.agents
    agents.create_version("bot", config=BASE)
    agents.create_version("bot", changes={"model": "gpt-4o"})
    agents.deploy("bot", 1)
    agents.resolve("bot", session="old-session")
    agents.deploy("bot", 2, reason="new model")
    assert [v.state for v in agents.versions("bot")] == ["active", "deprecated"]
    agents.resolve("bot", session="new-session")
    rolled = agents.rollback("bot", reason="answers got worse")
    assert (rolled.active_version, rolled.previous_version) == (1, 2)
    assert agents.resolve("bot", session="fresh").version == 1
    assert agents.resolve("bot", session="new-session").version == 2  # pinned sessions drain
    agents.transition("bot", 2, "retired", reason="done draining")
    with pytest.raises(corral.CorralError) as gone:
        agents.resolve("bot", session="new-session")
    assert (gone.value.status, gone.value.code) == (410, "agent_version_retired")
    assert gone.value.details == {"agent": "bot", "retired_version": 2, "use_version": 1}
    with pytest.raises(corral.Conflict) as in_use:
        agents.transition("bot", 1, "retired")
    assert in_use.value.code == "version_in_use"
    events = [e.action for e in world.admin.audit.list(action="deployment.*")]
    assert "deployment.rollback" in events


def test_who_may_change_versions(world: World, http: TestClient) -> None:
    world.admin.agents.create_version("bot", config=BASE)
    with pytest.raises(corral.Forbidden):
        as_key(http, world.viewer_key).agents.deploy("bot", 1)
    member = as_key(http, world.member_key)
    assert member.agents.deploy("bot", 1).active_version == 1
    with pytest.raises(corral.NotFound):
        as_key(http, world.other_project_key).agents.versions("bot")
    with pytest.raises(corral.NotFound) as none:
        world.admin.agents.resolve("bot", environment="staging")
    assert none.value.code == "no_deployment"
