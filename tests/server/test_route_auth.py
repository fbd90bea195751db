"""Every route is authenticated, and refuses keys that do not reach it.

The test walks the OpenAPI schema of the app itself. A route whose path names a project is
checked by the default rule; every other route must have a row in ``RULES``, so whoever adds a
route has to say who may call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import corral
from corral.core.alerts import raise_alert
from corral.core.runtime import Runtime
from corral.db.schema import FindingRow
from tests.conftest import bearer
from tests.server.world import World, build_world

ALLOWED = None  # "not refused": any status but 401/403


@dataclass(frozen=True)
class Rule:
    """What a route answers to a key of another project (``outsider``) and to a viewer of the
    project the request is about (``viewer``); ``public`` routes need no key at all."""

    outsider: int | None
    viewer: int | None
    public: bool = False


RULES: dict[tuple[str, str], Rule] = {
    # Sign-in comes before authentication.
    ("POST", "/v1/auth/login"): Rule(ALLOWED, ALLOWED, public=True),
    ("POST", "/v1/auth/logout"): Rule(ALLOWED, ALLOWED, public=True),
    ("POST", "/v1/auth/accept-invite"): Rule(ALLOWED, ALLOWED, public=True),
    # About the caller itself.
    ("GET", "/v1/status"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/auth/session"): Rule(401, 401),  # a key is not a console session
    ("POST", "/v1/auth/password"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/keys"): Rule(ALLOWED, ALLOWED),
    ("POST", "/v1/keys"): Rule(ALLOWED, ALLOWED),
    # Lists filtered to what the caller reaches.
    ("GET", "/v1/projects"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/users"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/agents"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/trace-metrics"): Rule(ALLOWED, ALLOWED),
    # Gateway calls: the project comes from the key or X-Corral-Project.
    ("POST", "/v1/chat/completions"): Rule(ALLOWED, 403),
    ("POST", "/v1/embeddings"): Rule(ALLOWED, 403),
    ("POST", "/v1/messages"): Rule(ALLOWED, 403),
    # The project of an OTLP export comes from the key or a resource attribute in the body.
    ("POST", "/v1/traces"): Rule(ALLOWED, ALLOWED),
    # Workspace administration.
    ("POST", "/v1/projects"): Rule(403, 403),
    ("POST", "/v1/users"): Rule(403, 403),
    ("GET", "/v1/users/{user_id}"): Rule(403, 403),
    ("PATCH", "/v1/users/{user_id}"): Rule(403, 403),
    ("POST", "/v1/users/{user_id}/invite"): Rule(403, 403),
    ("POST", "/v1/agents"): Rule(403, 403),
    ("PATCH", "/v1/agents/{agent}"): Rule(403, 403),
    ("GET", "/v1/audit/verify"): Rule(403, 403),
    ("GET", "/v1/audit/checkpoints"): Rule(403, 403),
    # Project admins read the audit of their projects; others nothing.
    ("GET", "/v1/audit"): Rule(403, 403),
    ("GET", "/v1/audit/export"): Rule(403, 403),
    # Agents outside the caller's projects are reported missing, so they cannot be discovered.
    ("GET", "/v1/agents/{agent}"): Rule(404, ALLOWED),
    ("GET", "/v1/agents/{agent}/policy"): Rule(404, ALLOWED),
    ("GET", "/v1/agents/{agent}/policy/versions"): Rule(404, ALLOWED),
    ("PUT", "/v1/agents/{agent}/policy"): Rule(404, 403),
    ("DELETE", "/v1/agents/{agent}/policy"): Rule(404, 403),
    ("POST", "/v1/agents/{agent}/policy/versions/{version}/restore"): Rule(404, 403),
    ("DELETE", "/v1/keys/{key_id}"): Rule(404, 404),
    # The project is in the body.
    ("POST", "/v1/authorize"): Rule(403, ALLOWED),
    ("POST", "/v1/budgets"): Rule(403, 403),
    # Budgets of projects the caller does not reach are reported missing.
    ("GET", "/v1/budgets"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/budgets/alerts"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/budgets/{budget_id}"): Rule(404, ALLOWED),
    ("GET", "/v1/budgets/{budget_id}/usage"): Rule(404, ALLOWED),
    ("PATCH", "/v1/budgets/{budget_id}"): Rule(404, 403),
    ("DELETE", "/v1/budgets/{budget_id}"): Rule(404, 403),
    # Agent lifecycle: outsiders cannot see the agent; viewers may look but not change.
    ("GET", "/v1/agents/{agent}/versions"): Rule(404, ALLOWED),
    ("POST", "/v1/agents/{agent}/versions"): Rule(404, 403),
    ("GET", "/v1/agents/{agent}/versions/{number}"): Rule(404, ALLOWED),
    ("PATCH", "/v1/agents/{agent}/versions/{number}"): Rule(404, 403),
    ("POST", "/v1/agents/{agent}/versions/{number}/transition"): Rule(404, 403),
    ("GET", "/v1/agents/{agent}/versions/{first}/diff/{second}"): Rule(404, ALLOWED),
    ("GET", "/v1/agents/{agent}/deployments"): Rule(404, ALLOWED),
    ("POST", "/v1/agents/{agent}/deployments"): Rule(404, 403),
    ("POST", "/v1/agents/{agent}/rollback"): Rule(404, 403),
    ("GET", "/v1/agents/{agent}/resolve"): Rule(404, ALLOWED),
    ("GET", "/v1/agents/{agent}/rollouts"): Rule(404, ALLOWED),
    ("POST", "/v1/agents/{agent}/rollouts"): Rule(404, 403),
    ("GET", "/v1/agents/{agent}/rollouts/{rollout_id}"): Rule(404, ALLOWED),
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/analyze"): Rule(404, 403),
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/pause"): Rule(404, 403),
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/resume"): Rule(404, 403),
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/promote"): Rule(404, 403),
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/abort"): Rule(404, 403),
    # Alerts: incidents and rules of projects the caller does not reach are missing to it.
    ("GET", "/v1/alerts"): Rule(ALLOWED, ALLOWED),
    ("POST", "/v1/alerts/{alert_id}"): Rule(404, 403),
    ("GET", "/v1/alert-rules"): Rule(ALLOWED, ALLOWED),
    ("POST", "/v1/alert-rules"): Rule(403, 403),
    ("PATCH", "/v1/alert-rules/{rule_id}"): Rule(404, 403),
    ("DELETE", "/v1/alert-rules/{rule_id}"): Rule(404, 403),
    ("GET", "/v1/webhook-deliveries"): Rule(403, 403),
    # Providers and their keys are workspace administration.
    ("GET", "/v1/providers"): Rule(403, 403),
    ("POST", "/v1/providers"): Rule(403, 403),
    ("PATCH", "/v1/providers/{provider}"): Rule(403, 403),
    ("DELETE", "/v1/providers/{provider}"): Rule(403, 403),
    # Memory across projects: what the caller reaches, nothing else.
    ("POST", "/v1/memory/open"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/memory/recall"): Rule(ALLOWED, ALLOWED),
    # Spend of the projects the caller reaches; prices are the same for everyone.
    ("GET", "/v1/costs"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/prices/quote"): Rule(ALLOWED, ALLOWED),
    ("GET", "/v1/prices/overrides"): Rule(ALLOWED, ALLOWED),
    ("POST", "/v1/prices/overrides"): Rule(403, 403),
    ("DELETE", "/v1/prices/overrides/{override_id}"): Rule(403, 403),
    # Budget holds: the project is in the body; a hold of another project is missing.
    ("POST", "/v1/budgets/reservations"): Rule(403, 403),
    ("POST", "/v1/budgets/reservations/{reservation_id}/settle"): Rule(404, 404),
    ("POST", "/v1/budgets/reservations/{reservation_id}/release"): Rule(404, 404),
}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/projects"): {"name": "gamma"},
    ("PATCH", "/v1/projects/{project}"): {"description": "changed"},
    ("PUT", "/v1/projects/{project}/members/users/{user_id}"): {"role": "member"},
    ("PUT", "/v1/projects/{project}/members/agents/{agent}"): {"role": "member"},
    ("POST", "/v1/users"): {"email": "new@example.com"},
    ("PATCH", "/v1/users/{user_id}"): {"name": "renamed"},
    ("POST", "/v1/agents"): {"name": "newbot"},
    ("PATCH", "/v1/agents/{agent}"): {"description": "changed"},
    ("POST", "/v1/keys"): {"name": "k"},
    ("POST", "/v1/auth/login"): {"email": "nobody@example.com", "password": "wrong"},
    ("POST", "/v1/auth/accept-invite"): {"token": "nope", "password": "long enough pw"},
    ("POST", "/v1/auth/password"): {"current_password": "x", "new_password": "long enough pw"},
    ("PUT", "/v1/agents/{agent}/policy"): {"rules": [{"effect": "allow", "tools": ["search"]}]},
    ("POST", "/v1/authorize"): {"project": "alpha", "agent": "bot", "tool": "search"},
    ("POST", "/v1/projects/{project}/traces/purge"): {"before": "2026-01-01T00:00:00Z"},
    ("POST", "/v1/chat/completions"): {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
    },
    ("POST", "/v1/embeddings"): {"model": "m", "input": "x"},
    ("POST", "/v1/messages"): {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
    },
    ("POST", "/v1/budgets"): {"name": "b", "scope": "project", "project": "alpha", "limit": 1},
    ("PATCH", "/v1/budgets/{budget_id}"): {"limit": 2},
    ("POST", "/v1/providers"): {"name": "p2", "kind": "openai", "base_url": "http://x"},
    ("PATCH", "/v1/providers/{provider}"): {"priority": 5},
    ("POST", "/v1/agents/{agent}/versions"): {"config": {"model": "other-model"}},
    ("PATCH", "/v1/agents/{agent}/versions/{number}"): {"note": "x"},
    ("POST", "/v1/agents/{agent}/versions/{number}/transition"): {"state": "retired"},
    ("POST", "/v1/agents/{agent}/deployments"): {"environment": "production", "version": 1},
    ("POST", "/v1/agents/{agent}/rollback"): {"environment": "production"},
    ("POST", "/v1/agents/{agent}/rollouts"): {"environment": "production", "version": 1},
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/pause"): {},
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/resume"): {},
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/promote"): {},
    ("POST", "/v1/agents/{agent}/rollouts/{rollout_id}/abort"): {},
    ("POST", "/v1/alerts/{alert_id}"): {"status": "acknowledged"},
    ("POST", "/v1/alert-rules"): {"name": "r", "project": "alpha"},
    ("PATCH", "/v1/alert-rules/{rule_id}"): {"enabled": False},
    ("POST", "/v1/projects/{project}/memory/items"): {"content": "x"},
    ("POST", "/v1/projects/{project}/memory/items/batch"): {"items": [{"content": "x"}]},
    ("PATCH", "/v1/projects/{project}/memory/items/{item_id}"): {"content": "x"},
    ("POST", "/v1/projects/{project}/memory/items/{item_id}/supersede"): {"content": "x"},
    ("PATCH", "/v1/projects/{project}/memory/brief"): {"goal": "x"},
    ("POST", "/v1/memory/open"): {"recent": True},
    ("POST", "/v1/prices/overrides"): {"model": "m", "input_per_mtok": 1, "output_per_mtok": 2},
    ("POST", "/v1/budgets/reservations"): {"project": "alpha", "model": "m", "prompt": "x"},
    ("POST", "/v1/budgets/reservations/{reservation_id}/settle"): {"output_tokens": 1},
    ("POST", "/v1/projects/{project}/findings/{finding_id}"): {"status": "acknowledged"},
    ("PATCH", "/v1/projects/{project}/detector-settings"): {"set": {"loop_repeats": 4}},
    ("POST", "/v1/projects/{project}/sessions/{session_id}/resume"): {},
}


def project_rule(method: str) -> Rule:
    """Routes under /v1/projects/{project}: outsiders 403, viewers may only read."""
    return Rule(403, ALLOWED if method == "GET" else 403)


def v1_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI schema under /v1."""
    routes = sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1")
        for method in operations
    )
    assert len(routes) >= 30, routes  # guards against walking an empty list
    return routes


def rule_for(method: str, path: str) -> Rule:
    if (method, path) in RULES:
        return RULES[(method, path)]
    assert "{project}" in path, f"{method} {path} has no access rule in this test"
    return project_rule(method)


@pytest.fixture
def world(http: TestClient, admin: corral.Client, runtime: Runtime) -> World:
    built = build_world(http, admin)
    admin.alerts.create_rule("alpha rule", project="alpha")
    with runtime.db.write() as uow:
        raise_alert(
            uow,
            kind="finding",
            severity="warning",
            key="k",
            title="t",
            project_id=admin.projects.get("alpha").id,
            now=runtime.clock.now(),
        )
        uow.add(
            FindingRow(
                project_id=admin.projects.get("alpha").id,
                scope="s1",
                key="tool_loop:k",
                type="tool_loop",
                severity="warning",
                status="open",
                session_id="s1",
                explanation="e",
                span_ids=[],
                wasted_tokens=0,
                wasted_cost_usd=0.0,
                details={},
                first_detected_at=runtime.clock.now(),
                updated_at=runtime.clock.now(),
            )
        )
    admin.budgets.create("alpha budget", scope="project", project="alpha", limit=10)
    admin.providers.add("upstream", kind="openai", base_url="http://127.0.0.1:9/v1")
    admin.agents.create_version("bot", config={"model": "gpt-4o-mini"})
    admin.prices.set("house-model", input_per_mtok=1, output_per_mtok=2)
    hold = admin.budgets.hold(project="alpha", model="gpt-4o-mini", prompt="hello")
    built.ids["reservation_id"] = hold.id
    return built


def fill(path: str, world: World, project: str = "alpha") -> str:
    """A concrete URL for a route, naming objects the world created."""
    return (
        path.replace("{project}", project)
        .replace("{agent}", "bot")
        .replace("{user_id}", str(world.member_id))
        .replace("{key_id}", world.admin.keys.list()[0].id)
        .replace("{version}", "1")
        .replace("{number}", "1")
        .replace("{first}", "1")
        .replace("{second}", "1")
        .replace("{budget_id}", str(world.admin.budgets.list()[0].id))
        .replace("{provider}", "upstream")
        .replace("{alert_id}", "1")
        .replace("{rule_id}", "1")
        .replace("{trace_id}", "0" * 32)
        .replace("{span_id}", "0" * 16)
        .replace("{session_id}", "s1")
        .replace("{item_id}", "1")
        .replace("{override_id}", str(world.admin.prices.overrides()[0].id))
        .replace("{reservation_id}", world.ids.get("reservation_id", "none"))
        .replace("{finding_id}", "1")
        .replace("{rollout_id}", "1")
    )


def call(http: TestClient, method: str, path: str, world: World, key: str | None) -> Any:
    headers = bearer(key) if key else {}
    return http.request(method, fill(path, world), json=BODIES.get((method, path)), headers=headers)


def test_every_route_has_a_rule(app: FastAPI) -> None:
    for method, path in v1_routes(app):
        rule_for(method, path)


def test_every_route_needs_a_key(app: FastAPI, http: TestClient, world: World) -> None:
    for method, path in v1_routes(app):
        response = call(http, method, path, world, key=None)
        if rule_for(method, path).public:
            assert response.status_code != 500, f"{method} {path}: {response.text}"
            continue
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.json()["error"]["code"] == "missing_credentials"


def check(response: Any, expected: int | None, label: str) -> None:
    if expected is ALLOWED:
        assert response.status_code not in (401, 403, 500), f"{label}: {response.text}"
    else:
        assert response.status_code == expected, f"{label}: {response.text}"


def test_key_of_another_project_is_refused(app: FastAPI, http: TestClient, world: World) -> None:
    # Set a policy first so the policy routes have something to show.
    world.admin.policies.save("bot", rules=["allow search"])
    for method, path in v1_routes(app):
        rule = rule_for(method, path)
        if rule.public:
            continue
        response = call(http, method, path, world, key=world.other_project_key)
        check(response, rule.outsider, f"outsider {method} {path}")
        if rule.outsider == 403 and "{project}" in path:
            assert response.json()["error"]["code"] == "project_access_denied"
            # A project that does not exist is refused the same way.
            ghost = http.request(
                method,
                fill(path, world, project="no-such-project"),
                json=BODIES.get((method, path)),
                headers=bearer(world.other_project_key),
            )
            assert ghost.status_code == 403, f"{method} {path}: {ghost.text}"


def test_insufficient_role_is_refused(app: FastAPI, http: TestClient, world: World) -> None:
    world.admin.policies.save("bot", rules=["allow search"])
    for method, path in v1_routes(app):
        rule = rule_for(method, path)
        if rule.public:
            continue
        response = call(http, method, path, world, key=world.viewer_key)
        check(response, rule.viewer, f"viewer {method} {path}")
        if rule.viewer == 403:
            assert response.json()["error"]["code"] == "permission_denied", f"{method} {path}"


def test_self_scoped_routes_show_only_what_the_key_reaches(http: TestClient, world: World) -> None:
    other = bearer(world.other_project_key)
    assert [p["name"] for p in http.get("/v1/projects", headers=other).json()["data"]] == ["beta"]
    assert http.get("/v1/agents", headers=other).json()["data"] == []
    users = http.get("/v1/users", headers=other).json()["data"]
    assert [u["id"] for u in users] == [world.other_id]
    keys = http.get("/v1/keys", headers=other).json()
    assert {k["owner_id"] for k in keys} == {world.other_id}
    status = http.get("/v1/status", headers=other).json()
    assert status["principal"]["roles"] == {"beta": "member"}


def test_member_cannot_manage_keys_or_policies(http: TestClient, world: World) -> None:
    member = corral.Client(url="http://testserver", api_key=world.member_key, http_client=http)
    with pytest.raises(corral.Forbidden):
        member.keys.create("bot key", agent="bot", projects=["alpha"])
    with pytest.raises(corral.NotFound):
        member.keys.revoke(world.admin.keys.list()[0].id)
    with pytest.raises(corral.Forbidden):
        member.policies.save("bot", rules=["allow *"])
    with pytest.raises(corral.Forbidden):
        member.audit.list()
