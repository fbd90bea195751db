from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

import corral
from corral.core.clock import ManualClock
from corral.core.projects import touch_project
from corral.core.runtime import Runtime
from tests.conftest import bearer
from tests.server.world import as_key, build_world


def test_create_get_update_delete(admin: corral.Client) -> None:
    created = admin.projects.create("acme", description="Acme Corp", retention_days=30)
    assert (created.name, created.description, created.retention_days) == ("acme", "Acme Corp", 30)
    assert created.role == "admin"
    assert admin.projects.get("acme") == created
    updated = admin.projects.update("acme", description="Acme Inc.", new_name="acme-inc")
    assert (updated.name, updated.description) == ("acme-inc", "Acme Inc.")
    with pytest.raises(corral.NotFound):
        admin.projects.get("acme")
    admin.projects.delete("acme-inc")
    assert admin.projects.list() == []


def test_duplicate_names_conflict(admin: corral.Client) -> None:
    admin.projects.create("acme")
    admin.projects.create("other")
    with pytest.raises(corral.Conflict) as err:
        admin.projects.create("acme")
    assert err.value.code == "project_exists"
    with pytest.raises(corral.Conflict):
        admin.projects.update("other", new_name="acme")


def test_list_is_most_recent_first_and_paginates(
    admin: corral.Client, http: TestClient, admin_key: str, runtime: Runtime, clock: ManualClock
) -> None:
    for name in ["p1", "p2", "p3", "p4", "p5"]:
        admin.projects.create(name)
        clock.advance(timedelta(minutes=1))
    p2 = admin.projects.get("p2").id
    with runtime.db.write() as uow:
        touch_project(uow, p2, clock.now())
    assert [p.name for p in admin.projects.list()] == ["p2", "p5", "p4", "p3", "p1"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = http.get("/v1/projects", params=params, headers=bearer(admin_key)).json()
        seen += [p["name"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["p2", "p5", "p4", "p3", "p1"]
    bad = http.get("/v1/projects", params={"cursor": "garbage!"}, headers=bearer(admin_key))
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_cursor")


def test_activity_touch_is_throttled(
    admin: corral.Client, runtime: Runtime, clock: ManualClock
) -> None:
    project = admin.projects.create("acme")
    clock.advance(timedelta(seconds=5))
    with runtime.db.write() as uow:
        touch_project(uow, project.id, clock.now())
    assert admin.projects.get("acme").last_active_at == project.last_active_at
    clock.advance(timedelta(minutes=5))
    with runtime.db.write() as uow:
        touch_project(uow, project.id, clock.now())
    assert admin.projects.get("acme").last_active_at == clock.now()


def test_member_may_describe_but_not_rename(http: TestClient, admin: corral.Client) -> None:
    world = build_world(http, admin)
    member = as_key(http, world.member_key)
    assert member.projects.update("alpha", description="notes").description == "notes"
    with pytest.raises(corral.Forbidden) as err:
        member.projects.update("alpha", new_name="renamed")
    assert err.value.details["permission"] == "projects:admin"
    with pytest.raises(corral.Forbidden):
        as_key(http, world.project_admin_key).projects.delete("alpha")


def test_unknown_project_is_404_only_for_those_who_see_everything(
    http: TestClient, admin: corral.Client
) -> None:
    world = build_world(http, admin)
    with pytest.raises(corral.NotFound) as err:
        admin.projects.get("ghost")
    assert err.value.code == "project_not_found"
    with pytest.raises(corral.Forbidden) as denied:
        as_key(http, world.member_key).projects.get("ghost")
    with pytest.raises(corral.Forbidden) as also_denied:
        as_key(http, world.member_key).projects.get("beta")
    assert denied.value.message.replace("ghost", "X") == also_denied.value.message.replace(
        "beta", "X"
    )


def test_members_roles_and_agents(http: TestClient, admin: corral.Client) -> None:
    world = build_world(http, admin)
    members = {
        (m.principal_kind, m.principal_name): m.role for m in admin.projects.members("alpha")
    }
    assert members == {
        ("user", "viewer@example.com"): "viewer",
        ("user", "member@example.com"): "member",
        ("user", "padmin@example.com"): "admin",
        ("agent", "bot"): "member",
    }
    project_admin = as_key(http, world.project_admin_key)
    project_admin.projects.set_role("alpha", world.viewer_id, "member")
    assert as_key(http, world.viewer_key).projects.update("alpha", description="x")
    project_admin.projects.remove_user("alpha", world.viewer_id)
    with pytest.raises(corral.Forbidden):
        as_key(http, world.viewer_key).projects.get("alpha")
    with pytest.raises(corral.NotFound) as err:
        project_admin.projects.remove_user("alpha", world.viewer_id)
    assert err.value.code == "member_not_found"
    project_admin.projects.revoke_agent("alpha", "bot")
    with pytest.raises(corral.Forbidden):
        as_key(http, world.agent_key).projects.get("alpha")
