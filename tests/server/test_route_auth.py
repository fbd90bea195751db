"""Every route is authenticated, and refuses keys that do not reach it.

The test walks the routes of the app itself, so a new route that is not classified here fails it:
whoever adds a route has to say who may call it.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import corral
from tests.conftest import bearer
from tests.server.world import World, build_world

# Routes that answer any authenticated caller with what that caller may see.
SELF_SCOPED = {
    ("GET", "/v1/status"),
    ("GET", "/v1/projects"),
    ("GET", "/v1/keys"),
    ("POST", "/v1/keys"),
    ("GET", "/v1/users"),
    ("GET", "/v1/agents"),
    ("POST", "/v1/memory/open"),
    ("GET", "/v1/memory/recall"),
}
# Workspace-level actions: a project viewer is refused with 403.
WORKSPACE_ADMIN = {
    ("POST", "/v1/projects"),
    ("POST", "/v1/users"),
    ("GET", "/v1/users/{user_id}"),
    ("PATCH", "/v1/users/{user_id}"),
    ("POST", "/v1/agents"),
    ("PATCH", "/v1/agents/{agent}"),
}
# Objects outside the caller's reach are reported as missing, so they cannot be discovered.
HIDDEN_AS_404 = {
    ("GET", "/v1/agents/{agent}"),
    ("DELETE", "/v1/keys/{key_id}"),
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
    ("POST", "/v1/projects/{project}/memory/items"): {"content": "x"},
    ("POST", "/v1/projects/{project}/memory/items/batch"): {"items": [{"content": "x"}]},
    ("PATCH", "/v1/projects/{project}/memory/items/{item_id}"): {"content": "x"},
    ("PATCH", "/v1/projects/{project}/memory/brief"): {"goal": "x"},
    ("POST", "/v1/memory/open"): {"recent": True},
}


def v1_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI schema under /v1."""
    routes = sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1")
        for method in operations
    )
    assert len(routes) >= 20, routes  # guards against walking an empty list
    return routes


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def fill(path: str, world: World, key_id: str) -> str:
    return (
        path.replace("{project}", "alpha")
        .replace("{agent}", "bot")
        .replace("{user_id}", str(world.member_id))
        .replace("{key_id}", key_id)
        .replace("{item_id}", "1")
    )


def call(http: TestClient, method: str, path: str, world: World, key: str | None) -> Any:
    admin_key_id = world.admin.keys.list()[0].id
    body = BODIES.get((method, path))
    headers = bearer(key) if key else {}
    return http.request(method, fill(path, world, admin_key_id), json=body, headers=headers)


def test_every_route_is_classified(app: FastAPI) -> None:
    for method, path in v1_routes(app):
        classified = (method, path) in SELF_SCOPED | WORKSPACE_ADMIN | HIDDEN_AS_404
        assert classified or "{project}" in path, f"{method} {path} has no access rule in this test"


def test_every_route_needs_a_key(app: FastAPI, http: TestClient, world: World) -> None:
    for method, path in v1_routes(app):
        response = call(http, method, path, world, key=None)
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.json()["error"]["code"] == "missing_credentials"


def test_key_of_another_project_is_refused(app: FastAPI, http: TestClient, world: World) -> None:
    for method, path in v1_routes(app):
        if "{project}" not in path:
            continue
        response = call(http, method, path, world, key=world.other_project_key)
        assert response.status_code == 403, f"{method} {path}: {response.text}"
        assert response.json()["error"]["code"] == "project_access_denied"
        # The refusal for a project that does not exist looks the same.
        ghost = http.request(
            method,
            fill(path, world, "x").replace("/alpha", "/no-such-project"),
            json=BODIES.get((method, path)),
            headers=bearer(world.other_project_key),
        )
        assert ghost.status_code == 403, f"{method} {path}: {ghost.text}"


def test_insufficient_role_is_refused(app: FastAPI, http: TestClient, world: World) -> None:
    for method, path in v1_routes(app):
        if (method, path) in WORKSPACE_ADMIN or ("{project}" in path and method != "GET"):
            response = call(http, method, path, world, key=world.viewer_key)
            assert response.status_code == 403, f"{method} {path}: {response.text}"
            assert response.json()["error"]["code"] == "permission_denied"


def test_hidden_objects_are_404_for_outsiders(app: FastAPI, http: TestClient, world: World) -> None:
    for method, path in HIDDEN_AS_404:
        response = call(http, method, path, world, key=world.other_project_key)
        assert response.status_code == 404, f"{method} {path}: {response.text}"


def test_self_scoped_routes_show_only_what_the_key_reaches(http: TestClient, world: World) -> None:
    other = {"authorization": f"Bearer {world.other_project_key}"}
    assert [p["name"] for p in http.get("/v1/projects", headers=other).json()["data"]] == ["beta"]
    assert http.get("/v1/agents", headers=other).json()["data"] == []
    users = http.get("/v1/users", headers=other).json()["data"]
    assert [u["id"] for u in users] == [world.other_id]
    keys = http.get("/v1/keys", headers=other).json()
    assert {k["owner_id"] for k in keys} == {world.other_id}
    status = http.get("/v1/status", headers=other).json()
    assert status["principal"]["roles"] == {"beta": "member"}
