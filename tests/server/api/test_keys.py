from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

import corral
from corral.core.clock import ManualClock
from corral.core.runtime import Runtime
from corral.db.schema import ApiKeyRow
from tests.server.world import as_key, build_world


def test_secret_is_shown_once_and_stored_hashed(admin: corral.Client, runtime: Runtime) -> None:
    created = admin.keys.create("ci")
    assert created.secret.startswith(created.prefix)
    listed = {k.id: k for k in admin.keys.list()}
    assert "secret" not in listed[created.id].model_dump()
    with runtime.db.read() as uow:
        stored = uow.scalars(select(ApiKeyRow)).all()
    assert all(created.secret.split("_")[-1] not in repr(vars(row)) for row in stored)


def test_project_and_permission_limits(http: TestClient, admin: corral.Client) -> None:
    build_world(http, admin)
    key = admin.keys.create("alpha reader", projects=["alpha"], permissions=["projects:read"])
    reader = as_key(http, key.secret)
    assert [p.name for p in reader.projects.list()] == ["alpha"]
    with pytest.raises(corral.Forbidden):
        reader.projects.get("beta")
    with pytest.raises(corral.Forbidden) as err:
        reader.projects.update("alpha", description="nope")
    assert "limited to" in err.value.message
    with pytest.raises(corral.Forbidden):
        reader.projects.create("gamma")  # a project-limited key is never workspace admin


def test_agent_keys_need_project_admin(http: TestClient, admin: corral.Client) -> None:
    world = build_world(http, admin)
    project_admin = as_key(http, world.project_admin_key)
    made = project_admin.keys.create("bot-2", agent="bot", projects=["alpha"])
    assert (made.owner_kind, made.owner_name, made.projects) == ("agent", "bot", ["alpha"])
    with pytest.raises(corral.Forbidden):
        project_admin.keys.create("bot-all", agent="bot")
    with pytest.raises(corral.Forbidden):
        as_key(http, world.member_key).keys.create("bot-3", agent="bot", projects=["alpha"])
    with pytest.raises(corral.Forbidden) as err:
        as_key(http, world.agent_key).keys.create("self")
    assert "agents cannot" in err.value.message
    # The project admin manages the agent key it made, and can revoke it.
    assert made.id in {k.id for k in project_admin.keys.list()}
    project_admin.keys.revoke(made.id)
    with pytest.raises(corral.Unauthenticated):
        as_key(http, made.secret).projects.list()


def test_revoke_is_idempotent_and_limited_to_own_keys(
    http: TestClient, admin: corral.Client
) -> None:
    world = build_world(http, admin)
    member = as_key(http, world.member_key)
    own = member.keys.create("mine")
    first = member.keys.revoke(own.id)
    assert member.keys.revoke(own.id).revoked_at == first.revoked_at
    assert own.id not in {k.id for k in member.keys.list()}
    assert own.id in {k.id for k in member.keys.list(include_revoked=True)}
    admin_key_id = admin.keys.list()[0].id
    with pytest.raises(corral.NotFound):
        member.keys.revoke(admin_key_id)


def test_bad_key_requests(admin: corral.Client) -> None:
    with pytest.raises(corral.InvalidRequest) as err:
        admin.keys.create("x", projects=[])
    assert err.value.code == "empty_scope"
    with pytest.raises(corral.InvalidRequest) as err:
        admin.keys.create("x", projects=["nope"])
    assert err.value.code == "project_not_found"
    with pytest.raises(corral.NotFound):
        admin.keys.create("x", agent="ghost")
    with pytest.raises(corral.InvalidRequest):
        admin.keys.create("x", permissions=["memory:everything"])


def test_a_key_revoked_elsewhere_is_refused_before_its_moment_ends_when_in_use(
    http: TestClient, admin: corral.Client, runtime: Runtime, clock: ManualClock
) -> None:
    key = admin.keys.create("busy")
    headers = {"authorization": f"Bearer {key.secret}"}
    assert http.get("/v1/status", headers=headers).status_code == 200  # remembered now
    with runtime.db.write() as uow:  # another replica revokes it
        uow.execute(
            update(ApiKeyRow).where(ApiKeyRow.public_id == key.id).values(revoked_at=clock.now())
        )
    clock.advance(timedelta(seconds=runtime.settings.auth_cache_seconds * 0.6))
    assert http.get("/v1/status", headers=headers).status_code == 200  # read again behind it
    deadline = time.monotonic() + 15
    while http.get("/v1/status", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "the revoked key was not read again"
        time.sleep(0.05)
    assert http.get("/v1/status", headers=headers).json()["error"]["code"] == "api_key_revoked"
