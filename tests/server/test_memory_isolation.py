"""Property: no call through REST, the SDK or MCP returns an item of a project the key does not
reach. Hypothesis generates projects, items, principals (users and agents with roles, keys
limited or not) and checks every memory read on every interface."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corral
from tests.conftest import bearer, client_for
from tests.mcp.harness import mcp_client, payload

WORDS = ["alpha", "budget", "cache", "deploy", "error", "fox", "graph", "host"]
COUNTER = itertools.count()


@dataclass(frozen=True)
class PrincipalSpec:
    agent: bool
    roles: tuple[tuple[int, str], ...]
    key_projects: tuple[int, ...] | None


principal = st.builds(
    PrincipalSpec,
    agent=st.booleans(),
    roles=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["viewer", "member", "admin"])),
        max_size=3,
        unique_by=lambda r: r[0],
    ).map(tuple),
    key_projects=st.none()
    | st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True).map(tuple),
)
items = st.lists(
    st.tuples(st.integers(0, 2), st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)),
    min_size=1,
    max_size=10,
)


def setup(admin: corral.Client, specs: list[PrincipalSpec], contents: list[Any]) -> dict[str, Any]:
    n = next(COUNTER)
    projects = [f"iso{n}-p{i}" for i in range(3)]
    for name in projects:
        admin.projects.create(name)
    owner: dict[int, str] = {}
    for index, (project, words) in enumerate(contents):
        result = admin.memory.remember(
            projects[project], f"common {' '.join(words)} number {index}", kind="fact"
        )
        owner[result.item.id] = projects[project]
    keys: list[tuple[str, set[str]]] = []
    for i, spec in enumerate(specs):
        agent_roles = [(projects[p], role) for p, role in spec.roles if spec.agent]
        key_projects = (
            None if spec.key_projects is None else [projects[p] for p in spec.key_projects]
        )
        if spec.agent:
            name = f"iso{n}-agent{i}"
            admin.agents.create(name)
            for project, role in agent_roles:
                admin.projects.grant_agent(project, name, role)
            secret = admin.keys.create(name, agent=name, projects=key_projects).secret
        else:
            user = admin.users.create(f"iso{n}-user{i}@example.com")
            for p, role in spec.roles:
                admin.projects.set_role(projects[p], user.id, role)
            secret = admin.keys.create(
                f"iso{n}-user{i}", user_id=user.id, projects=key_projects
            ).secret
        granted = {projects[p] for p, _ in spec.roles}
        reach = granted if key_projects is None else granted & set(key_projects)
        keys.append((secret, reach))
    return {"projects": projects, "owner": owner, "keys": keys}


def check_rest(http: TestClient, world: dict[str, Any], key: str, reach: set[str]) -> set[int]:
    seen: set[int] = set()
    for project in [*world["projects"], "iso-ghost"]:
        base = f"/v1/projects/{project}/memory"
        for path in (f"{base}/recall?q=common+alpha", f"{base}/items", f"{base}/restore"):
            response = http.get(path, headers=bearer(key))
            if project not in reach:
                assert response.status_code == 403, (path, response.text)
                continue
            assert response.status_code == 200, (path, response.text)
            body = response.json()
            found = body.get("hits") or body.get("data") or body.get("relevant") or []
            for entry in found:
                item = entry.get("item", entry)
                assert world["owner"][item["id"]] == project
                seen.add(item["id"])
    return seen


def check_sdk(http: TestClient, world: dict[str, Any], key: str, reach: set[str]) -> set[int]:
    client = client_for(http, key)
    seen: set[int] = set()
    for project in world["projects"]:
        if project not in reach:
            try:
                client.memory.recall(project, "common")
            except corral.Forbidden:
                continue
            raise AssertionError(f"recall in {project} was allowed")
        for hit in client.memory.recall(project, "common", limit=100).hits:
            assert world["owner"][hit.item.id] == project
            seen.add(hit.item.id)
        pack = client.memory.restore(project, task="common")
        for entry in pack.relevant:
            assert world["owner"][entry.item.id] == project
    try:
        across = client.memory.recall_across(world["projects"], "common", limit=100)
    except corral.Forbidden:
        assert set(world["projects"]) - reach
    else:
        assert set(world["projects"]) <= reach
        seen |= {hit.item.id for hit in across.hits}
    if reach:
        assert client.memory.open_recent().project in reach
    return seen


async def check_mcp(app: FastAPI, world: dict[str, Any], key: str, reach: set[str]) -> set[int]:
    seen: set[int] = set()
    async with mcp_client(app, key) as client:
        for project in world["projects"]:
            for tool, arguments in (
                ("recall", {"project": project, "query": "common", "limit": 100}),
                ("restore", {"project": project, "task": "common"}),
                ("open_project", {"name": project}),
            ):
                result = await client.call_tool(tool, arguments)
                body = None if result.is_error else payload(result)
                if project not in reach:
                    # A fuzzy open may settle on a similar name the key reaches; never on this one.
                    if body is None:
                        text = result.content[0].text
                        assert "project_access_denied" in text or (
                            tool == "open_project"
                            and "ambiguous_project" in text
                            and project not in text.split("projects:")[1]
                        ), text
                        continue
                    assert tool == "open_project"
                    assert body["project"] in reach
                opened = body.get("project", project)
                for entry in body.get("hits", []) + body.get("relevant", []):
                    assert world["owner"][entry["item"]["id"]] == opened
                    seen.add(entry["item"]["id"])
        listed = payload(await client.call_tool("list_projects", {}))
        names = {p["name"] for p in listed}
        assert names & set(world["projects"]) <= reach
    return seen


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(principal, min_size=1, max_size=3), contents=items)
def test_no_interface_leaks_another_projects_memory(
    app: FastAPI, http: TestClient, admin: corral.Client, specs: list[PrincipalSpec], contents: Any
) -> None:
    world = setup(admin, specs, contents)
    for key, reach in world["keys"]:
        seen = check_rest(http, world, key, reach)
        seen |= check_sdk(http, world, key, reach)
        portal = http.portal
        assert portal is not None
        seen |= portal.call(check_mcp, app, world, key, reach)
        assert {world["owner"][i] for i in seen} <= reach
        reachable_items = {i for i, p in world["owner"].items() if p in reach}
        assert seen == reachable_items  # every reachable item is found, and nothing else
