"""Superseding an item by id, the superseded and pinned filters, and the memory project list:
the services behind the console's memory pages, over REST and in process, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

import corral
from corral.core.access import Principal
from corral.core.clock import ManualClock
from corral.core.keys import authenticate
from corral.core.memory.overview import list_memory_projects
from corral.core.runtime import Runtime
from tests.conftest import bearer
from tests.server.world import World, build_world


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def supersede(http: TestClient, key: str, item_id: int, content: str) -> tuple[int, Any]:
    answer = http.post(
        f"/v1/projects/alpha/memory/items/{item_id}/supersede",
        json={"content": content},
        headers=bearer(key),
    )
    body = answer.json()
    return answer.status_code, body.get("error", body)


def test_supersede_an_item_without_key(
    http: TestClient, admin: corral.Client, admin_key: str, world: World, clock: ManualClock
) -> None:
    old = admin.memory.remember(
        "alpha", "Backups run nightly", kind="fact", tags=["ops"], pinned=True, importance=0.8
    ).item
    clock.advance(timedelta(minutes=1))
    status, body = supersede(http, admin_key, old.id, "Backups run hourly")
    assert status == 200
    assert body["outcome"] == "superseded"
    assert body["superseded"] == [old.id]
    new = admin.memory.get("alpha", body["item"]["id"])
    assert (new.kind, new.key, new.tags, new.pinned, new.importance) == (
        "fact",
        None,
        ["ops"],
        True,
        0.8,
    )
    closed = admin.memory.get("alpha", old.id)
    assert closed.superseded_by == new.id
    assert closed.valid_to == clock.now()
    assert [v.change for v in admin.memory.history("alpha", old.id)] == ["created", "superseded"]
    assert [h.item.id for h in admin.memory.recall("alpha", "backups").hits] == [new.id]
    # Only a current item can be superseded, and only with something new.
    status, body = supersede(http, admin_key, old.id, "Backups run daily")
    assert (status, body["code"]) == (409, "memory_item_not_current")
    assert body["details"]["superseded_by"] == new.id
    status, body = supersede(http, admin_key, new.id, "backups run HOURLY")
    assert (status, body["code"]) == (422, "supersede_unchanged")


def test_supersede_a_keyed_decision_and_who_may(
    http: TestClient, admin: corral.Client, world: World
) -> None:
    task = admin.memory.remember("alpha", "Ship the invoices page", kind="task").item
    decision = admin.memory.remember("alpha", "Use SQLite", kind="decision", key="db").item
    status, _ = supersede(http, world.viewer_key, decision.id, "Use PostgreSQL")
    assert status == 403
    status, _ = supersede(http, world.other_project_key, decision.id, "Use PostgreSQL")
    assert status == 403
    status, body = supersede(http, world.member_key, decision.id, "Use PostgreSQL")
    assert status == 200
    assert body["superseded"] == [decision.id]
    assert [i.content for i in admin.memory.list("alpha", key="db")] == ["Use PostgreSQL"]
    status, body = supersede(http, world.member_key, task.id, "Ship the invoices page v2")
    assert body["item"]["status"] == "open"
    again = admin.memory.supersede("alpha", body["item"]["id"], "Ship the invoices page v3")
    assert again.superseded == [body["item"]["id"]]
    assert again.item.status == "open"
    body = again.model_dump(mode="json")
    status, _ = supersede(http, world.member_key, 999_999, "nothing")
    assert status == 404
    too_big = "x" * (64 * 1024)
    status, body = supersede(http, world.member_key, body["item"]["id"], too_big)
    assert (status, body["code"]) == (413, "memory_item_too_large")


def test_validity_and_pinned_filters(
    http: TestClient, admin: corral.Client, admin_key: str, world: World
) -> None:
    first = admin.memory.remember("alpha", "Port 8000", kind="fact", key="port").item
    second = admin.memory.remember("alpha", "Port 9000", kind="fact", key="port").item
    pinned = admin.memory.remember("alpha", "Always be polite", kind="constraint", pinned=True)
    ids = lambda **kw: [i.id for i in admin.memory.list("alpha", **kw)]  # noqa: E731
    assert ids(validity="superseded") == [first.id]
    assert ids() == [pinned.item.id, second.id]
    assert ids(validity="all") == [pinned.item.id, second.id, first.id]
    recalled = admin.memory.recall("alpha", "port", validity="superseded").hits
    assert [h.item.id for h in recalled] == [first.id]

    def listed(**params: str) -> list[int]:
        answer = http.get(
            "/v1/projects/alpha/memory/items", params=params, headers=bearer(admin_key)
        )
        return [i["id"] for i in answer.json()["data"]]

    assert listed(pinned="true") == [pinned.item.id]
    assert listed(pinned="false", validity="all") == [second.id, first.id]
    assert ids(pinned=True) == [pinned.item.id]
    assert ids(pinned=False, validity="superseded") == [first.id]


def test_memory_projects_by_activity_with_counts(
    runtime: Runtime, admin: corral.Client, admin_key: str, world: World, clock: ManualClock
) -> None:
    admin.memory.remember_many("alpha", [{"content": f"note {n}"} for n in range(3)])
    actor = authenticate(runtime, admin_key)
    listed = list_memory_projects(runtime, actor).data
    assert [(p.project.name, p.items) for p in listed] == [("beta", 0), ("alpha", 3)]
    clock.advance(timedelta(minutes=5))
    admin.memory.remember("alpha", "one more")
    listed = list_memory_projects(runtime, actor).data
    assert [(p.project.name, p.items) for p in listed] == [("alpha", 4), ("beta", 0)]
    # Paged, and limited to what the caller reaches.
    first = list_memory_projects(runtime, actor, limit=1)
    assert [p.project.name for p in first.data] == ["alpha"]
    rest = list_memory_projects(runtime, actor, limit=1, cursor=first.next_cursor)
    assert [p.project.name for p in rest.data] == ["beta"]
    viewer: Principal = authenticate(runtime, world.viewer_key)
    assert [p.project.name for p in list_memory_projects(runtime, viewer).data] == ["alpha"]
