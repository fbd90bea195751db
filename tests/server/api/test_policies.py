from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import corral
from tests.server.world import World, as_key, build_world


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def test_no_policy_allows_everything_then_default_deny(http: TestClient, world: World) -> None:
    bot = as_key(http, world.agent_key)
    first = bot.authorize("anything", {"x": 1}, project="alpha")
    assert (first.allowed, first.reason, first.policy_version) == (True, "no_policy", None)

    saved = world.admin.policies.save("bot", rules=["allow refund when amount <= 500"], note="v1")
    assert (saved.version, saved.active) == (1, True)
    assert 'Tool::"refund"' in (saved.cedar or "")
    assert bot.authorize("refund", {"amount": 120}, project="alpha").allowed
    over = bot.authorize("refund", {"amount": 900}, project="alpha")
    assert (over.allowed, over.reason, over.policy_version) == (False, "not_permitted", 1)
    assert "no statement of policy v1 allows it" in over.message
    other = bot.authorize("delete_all", project="alpha")
    assert not other.allowed


def test_versions_restore_and_clear(world: World, http: TestClient) -> None:
    admin = world.admin
    admin.policies.save("bot", rules=["allow search"])
    admin.policies.save("bot", rules=["deny search", "allow *"], note="lock search")
    bot = as_key(http, world.agent_key)
    assert not bot.authorize("search", project="alpha").allowed
    restored = admin.policies.restore("bot", 1)
    assert (restored.version, restored.note) == (3, "restored version 1")
    assert bot.authorize("search", project="alpha").allowed
    cleared = admin.policies.clear("bot")
    assert cleared.cedar is None
    assert bot.authorize("rm_rf", project="alpha").reason == "no_policy"
    versions = admin.policies.versions("bot")
    assert [(v.version, v.active) for v in versions] == [
        (4, True),
        (3, False),
        (2, False),
        (1, False),
    ]
    with pytest.raises(corral.NotFound):
        admin.policies.restore("bot", 99)


def test_raw_cedar_and_malformed_policies(world: World) -> None:
    cedar = (
        '@id("eu-only")\npermit(principal, action == Action::"call_tool", resource) '
        'when { context.args has region && context.args.region == "eu" };'
    )
    world.admin.policies.save("bot", cedar=cedar)
    decision = world.admin.authorize("export", {"region": "eu"}, project="alpha", agent="bot")
    assert (decision.allowed, decision.policies) == (True, ["eu-only"])
    with pytest.raises(corral.InvalidRequest) as err:
        world.admin.policies.save("bot", cedar="permit(principal, action, resource) when {")
    assert err.value.code == "invalid_policy"
    assert "does not parse" in err.value.message
    with pytest.raises(corral.InvalidRequest):
        world.admin.policies.save(
            "bot",
            rules=[
                {"effect": "allow", "tools": ["x"], "when": [{"arg": "a", "op": "<", "value": "z"}]}
            ],
        )
    # The rejected saves changed nothing.
    assert world.admin.policies.get("bot").version == 1  # type: ignore[union-attr]


def test_who_may_ask_and_change(world: World, http: TestClient) -> None:
    world.admin.policies.save("bot", rules=["allow search"])
    member = as_key(http, world.member_key)
    assert member.authorize("search", project="alpha", agent="bot").allowed
    with pytest.raises(corral.InvalidRequest) as err:
        member.authorize("search", project="alpha")
    assert err.value.code == "agent_required"
    with pytest.raises(corral.Forbidden):
        as_key(http, world.agent_key).authorize("search", project="alpha", agent="other")
    with pytest.raises(corral.Forbidden):
        as_key(http, world.other_project_key).authorize("search", project="alpha", agent="bot")
    assert (
        as_key(http, world.project_admin_key).policies.save("bot", rules=["allow *"]).version == 2
    )
    world.admin.projects.create("gamma")
    with pytest.raises(corral.Forbidden) as denied:
        world.admin.authorize("search", project="gamma", agent="bot")
    assert denied.value.code == "agent_not_in_project"


def test_every_decision_is_audited(world: World, http: TestClient) -> None:
    world.admin.policies.save("bot", rules=["allow refund when amount <= 500"])
    bot = as_key(http, world.agent_key)
    bot.authorize("refund", {"amount": 10}, project="alpha")
    bot.authorize("refund", {"amount": 5000}, project="alpha")
    events = world.admin.audit.list(action="tool.authorize")
    assert [(e.outcome, e.details["args"]["amount"], e.policy_version) for e in events] == [
        ("denied", 5000, "1"),
        ("success", 10, "1"),
    ]
    assert {e.actor_name for e in events} == {"bot"}
    assert {e.project for e in events} == {"alpha"}
    saves = world.admin.audit.list(action="policy.*")
    assert [e.action for e in saves] == ["policy.save"]
