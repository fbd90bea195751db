from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import corral
from tests.server.world import as_key, build_world


def test_users_create_update_and_self_view(http: TestClient, admin: corral.Client) -> None:
    world = build_world(http, admin)
    assert len(admin.users.list()) == 5
    member = as_key(http, world.member_key)
    assert [u.email for u in member.users.list()] == ["member@example.com"]
    assert member.users.update(world.member_id, name="Mem").name == "Mem"
    with pytest.raises(corral.Forbidden):
        member.users.update(world.member_id, workspace_admin=True)
    with pytest.raises(corral.Conflict) as err:
        admin.users.create("MEMBER@example.com")
    assert err.value.code == "user_exists"
    with pytest.raises(corral.InvalidRequest):
        admin.users.create("not-an-email")


def test_disabled_user_is_locked_out_at_once(http: TestClient, admin: corral.Client) -> None:
    world = build_world(http, admin)
    member = as_key(http, world.member_key)
    assert member.projects.get("alpha").name == "alpha"
    admin.users.update(world.member_id, disabled=True)
    with pytest.raises(corral.Unauthenticated) as err:
        member.projects.get("alpha")
    assert err.value.code == "principal_disabled"
    admin.users.update(world.member_id, disabled=False)
    assert member.projects.get("alpha").name == "alpha"


def test_last_workspace_admin_cannot_be_removed(admin: corral.Client) -> None:
    me = admin.status().principal
    with pytest.raises(corral.InvalidRequest) as err:
        admin.users.update(me.id, disabled=True)
    assert err.value.code == "last_workspace_admin"
    second = admin.users.create("boss@example.com", workspace_admin=True)
    admin.users.update(second.id, workspace_admin=False)
    assert admin.users.get(second.id).workspace_admin is False


def test_agents_are_visible_where_granted(http: TestClient, admin: corral.Client) -> None:
    world = build_world(http, admin)
    admin.agents.create("lonely")
    assert [a.name for a in admin.agents.list()] == ["bot", "lonely"]
    member = as_key(http, world.member_key)
    assert [(a.name, a.projects) for a in member.agents.list()] == [("bot", ["alpha"])]
    with pytest.raises(corral.NotFound):
        member.agents.get("lonely")
    bot = as_key(http, world.agent_key)
    assert bot.status().principal.kind == "agent"
    assert bot.agents.get("bot").projects == ["alpha"]
    with pytest.raises(corral.Conflict):
        admin.agents.create("bot")


def test_disabled_agent_keys_stop_working(http: TestClient, admin: corral.Client) -> None:
    world = build_world(http, admin)
    bot = as_key(http, world.agent_key)
    admin.agents.update("bot", disabled=True)
    with pytest.raises(corral.Unauthenticated):
        bot.projects.list()
    admin.agents.update("bot", disabled=False)
    assert [p.name for p in bot.projects.list()] == ["alpha"]
