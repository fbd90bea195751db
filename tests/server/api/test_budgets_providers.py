from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import corral
from corral.core.providers import decrypt_key
from corral.core.runtime import Runtime
from corral.db.schema import AuditEventRow, ProviderRow
from tests.server.world import World, as_key, build_world


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def test_budget_crud_and_visibility(world: World, http: TestClient) -> None:
    admin = world.admin
    project_budget = admin.budgets.create(
        "alpha monthly", scope="project", project="alpha", limit=25.5
    )
    assert (project_budget.unit, project_budget.window, project_budget.thresholds) == (
        "usd",
        "month",
        [50, 80, 100],
    )
    per_session = admin.budgets.create("each session", scope="session", limit=1, window="total")
    admin.budgets.create(
        "beta tokens", scope="project", project="beta", unit="tokens", limit=100000, window="day"
    )
    member = as_key(http, world.member_key)
    assert {b.name for b in member.budgets.list()} == {"alpha monthly", "each session"}
    with pytest.raises(corral.NotFound):
        member.budgets.get(admin.budgets.list(project="beta")[0].id)
    with pytest.raises(corral.Forbidden):
        member.budgets.update(project_budget.id, limit=1)
    project_admin = as_key(http, world.project_admin_key)
    changed = project_admin.budgets.update(project_budget.id, limit=30, thresholds=[90])
    assert (changed.limit, changed.thresholds) == (30.0, [90])
    [usage] = member.budgets.usage(project_budget.id)
    assert (usage.spent, usage.remaining, usage.percent) == (0.0, 30.0, 0.0)
    assert member.budgets.usage(per_session.id) == []
    project_admin.budgets.delete(project_budget.id)
    actions = [e.action for e in admin.audit.list(action="budget.*")]
    assert actions == [
        "budget.delete",
        "budget.update",
        "budget.create",
        "budget.create",
        "budget.create",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scope": "project", "limit": 1},  # project budget without a project
        {"name": "x", "scope": "workspace", "limit": 1, "subject": "a"},
        {"name": "x", "scope": "agent", "limit": 0},
        {"name": "x", "scope": "agent", "limit": 1, "window": "rolling"},
        {"name": "x", "scope": "agent", "limit": 1, "window": "day", "rolling_hours": 3},
        {"name": "x", "scope": "agent", "limit": 1, "thresholds": [0]},
        {"name": "x", "scope": "galaxy", "limit": 1},
    ],
)
def test_invalid_budgets_are_422(
    http: TestClient, admin_key: str, admin: corral.Client, body: dict
) -> None:
    response = http.post("/v1/budgets", json=body, headers={"authorization": f"Bearer {admin_key}"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_provider_keys_are_encrypted_and_never_returned(
    world: World, runtime: Runtime, http: TestClient, admin_key: str
) -> None:
    secret = "sk-live-abcdef0123456789"
    created = world.admin.providers.add(
        "openai",
        kind="openai",
        base_url="https://api.openai.com/v1/",
        api_key=secret,
        models=["gpt-*", "o*"],
    )
    assert created.has_api_key
    assert created.base_url == "https://api.openai.com/v1"
    raw = http.get("/v1/providers", headers={"authorization": f"Bearer {admin_key}"}).text
    assert secret not in raw
    with runtime.db.read() as uow:
        stored = uow.scalars(select(ProviderRow.api_key_encrypted)).one()
        audit = " ".join(str(e.details) for e in uow.scalars(select(AuditEventRow)))
    assert stored is not None
    assert secret not in stored
    assert secret not in audit
    assert decrypt_key(runtime, stored) == secret
    world.admin.providers.update("openai", clear_api_key=True, priority=5)
    assert world.admin.providers.list()[0].has_api_key is False
    with pytest.raises(corral.Conflict):
        world.admin.providers.add("openai", kind="openai", base_url="http://x")
    with pytest.raises(corral.Forbidden):
        as_key(http, world.project_admin_key).providers.list()
    world.admin.providers.remove("openai")
    assert world.admin.providers.list() == []
