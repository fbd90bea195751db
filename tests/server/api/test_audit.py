from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

import corral
from corral.core.audit_trail import write_checkpoint
from corral.core.runtime import Runtime
from corral.db.schema import AuditCheckpointRow, AuditEventRow
from tests.conftest import bearer
from tests.server.world import World, as_key, build_world


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def test_privileged_actions_are_recorded(world: World) -> None:
    actions = [e.action for e in world.admin.audit.list(limit=500)]
    for expected in [
        "project.create",
        "user.create",
        "member.set_role",
        "api_key.create",
        "agent.create",
    ]:
        assert expected in actions
    key = world.admin.keys.create("temp")
    world.admin.keys.revoke(key.id)
    revoke = world.admin.audit.list(action="api_key.revoke")[0]
    assert (revoke.target_id, revoke.actor_name, revoke.outcome) == (
        key.id,
        "admin@localhost",
        "success",
    )
    assert revoke.request_id
    assert revoke.request_id.startswith("req_")
    world.admin.users.update(world.member_id, disabled=True)
    change = world.admin.audit.list(action="user.update")[0]
    assert change.details == {"before": {"disabled": False}, "after": {"disabled": True}}


def test_filters_and_project_admin_visibility(world: World, http: TestClient) -> None:
    world.admin.projects.update("beta", description="touched")
    project_admin = as_key(http, world.project_admin_key)
    seen = project_admin.audit.list(limit=500)
    assert seen
    assert {e.project for e in seen} == {"alpha"}
    assert all(e.project == "beta" for e in world.admin.audit.list(project="beta"))
    assert world.admin.audit.list(outcome="denied") == []
    with pytest.raises(corral.Forbidden):
        project_admin.audit.verify()


def test_export_is_oldest_first_jsonl(world: World, http: TestClient, admin_key: str) -> None:
    exported = list(world.admin.audit.export())
    assert [e.seq for e in exported] == list(range(1, len(exported) + 1))
    raw = http.get("/v1/audit/export", params={"action": "project.*"}, headers=bearer(admin_key))
    assert raw.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in raw.text.splitlines()]
    assert {line["action"] for line in lines} == {"project.create"}
    refused = http.get("/v1/audit/export", headers=bearer(world.viewer_key))
    assert refused.status_code == 403


def test_verify_detects_tampering_and_names_the_event(world: World, runtime: Runtime) -> None:
    assert world.admin.audit.verify().ok
    with runtime.db.write() as uow:
        uow.execute(update(AuditEventRow).where(AuditEventRow.seq == 4).values(outcome="denied"))
    result = world.admin.audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "edited" in (result.problem or "")


def test_signed_checkpoints_catch_a_rewritten_trail(world: World, runtime: Runtime) -> None:
    checkpoint = write_checkpoint(runtime)
    assert checkpoint is not None
    assert write_checkpoint(runtime) is None  # the head has not moved
    listed = world.admin.audit.checkpoints()
    assert [(c.seq, c.valid) for c in listed] == [(checkpoint.seq, True)]
    assert world.admin.audit.verify().checkpoints_checked == 1
    # Forge the checkpoint's hash: the signature no longer matches.
    with runtime.db.write() as uow:
        uow.execute(update(AuditCheckpointRow).values(hash="0" * 64))
    result = world.admin.audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, checkpoint.seq)
    assert "not signed by this server" in (result.problem or "")
