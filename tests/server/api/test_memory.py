"""Project memory through the SDK against the in-process app, on both databases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import corral
from corral.core.clock import ManualClock
from corral.core.runtime import Runtime
from corral.core.tokens import count_tokens
from corral.db.schema import AuditEventRow, MemoryStatsRow, MemoryTermRow
from tests.conftest import bearer
from tests.server.world import World, as_key, build_world


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


@pytest.fixture
def mem(admin: corral.Client, world: World) -> corral.Client:
    return admin


def test_remember_dedups_normalized_duplicates(mem: corral.Client) -> None:
    first = mem.memory.remember("alpha", "Deploys happen on Tuesdays.", kind="fact")
    assert first.outcome == "created"
    again = mem.memory.remember("alpha", "  deploys HAPPEN on tuesdays ", kind="fact")
    assert again.outcome == "duplicate"
    assert again.item.id == first.item.id
    assert [i.id for i in mem.memory.list("alpha")] == [first.item.id]


def test_same_key_supersedes_and_keeps_history(mem: corral.Client, clock: ManualClock) -> None:
    old = mem.memory.remember("alpha", "The API runs on port 8000", kind="fact", key="api-port")
    clock.advance(timedelta(minutes=5))
    new = mem.memory.remember("alpha", "The API runs on port 9000", kind="fact", key="api-port")
    assert new.outcome == "superseded"
    assert new.superseded == [old.item.id]
    closed = mem.memory.get("alpha", old.item.id)
    assert closed.valid_to == clock.now()
    assert closed.superseded_by == new.item.id
    assert [v.change for v in mem.memory.history("alpha", old.item.id)] == [
        "created",
        "superseded",
    ]
    current = mem.memory.list("alpha", key="api-port")
    assert [i.id for i in current] == [new.item.id]
    everything = mem.memory.list("alpha", key="api-port", validity="all")
    assert {i.id for i in everything} == {old.item.id, new.item.id}
    hits = mem.memory.recall("alpha", "which port does the API use")
    assert [h.item.id for h in hits.hits] == [new.item.id]


def test_contradicting_decision_is_a_conflict_unless_superseded(mem: corral.Client) -> None:
    first = mem.memory.remember("alpha", "Use PostgreSQL", kind="decision", key="database")
    with pytest.raises(corral.Conflict) as err:
        mem.memory.remember("alpha", "Use MySQL", kind="decision", key="database")
    assert err.value.code == "memory_conflict"
    assert err.value.details["active_item"] == first.item.id
    assert str(first.item.id) in err.value.message
    same = mem.memory.remember("alpha", "use postgresql!", kind="decision", key="database")
    assert same.outcome == "duplicate"
    replaced = mem.memory.remember(
        "alpha", "Use MySQL", kind="decision", key="database", supersede=True
    )
    assert replaced.superseded == [first.item.id]


def test_batch_is_all_or_nothing(mem: corral.Client) -> None:
    mem.memory.remember("alpha", "No deploys on Friday", kind="constraint", key="deploys")
    items = [
        {"content": "first note"},
        {"content": "Deploy any day", "kind": "constraint", "key": "deploys"},
    ]
    with pytest.raises(corral.Conflict) as err:
        mem.memory.remember_many("alpha", items)
    assert err.value.details["index"] == 1
    assert [i.content for i in mem.memory.list("alpha")] == ["No deploys on Friday"]
    result = mem.memory.remember_many(
        "alpha", [{"content": "a"}, {"content": "b"}, {"content": "A"}]
    )
    assert (result.created, result.duplicates) == (2, 1)
    assert result.results[2].item.id == result.results[0].item.id


def test_oversized_content_is_413_with_the_limit(mem: corral.Client, runtime: Runtime) -> None:
    limit = runtime.settings.memory_max_item_bytes
    with pytest.raises(corral.PayloadTooLarge) as err:
        mem.memory.remember("alpha", "x" * (limit + 1))
    assert err.value.details["limit_bytes"] == limit
    assert mem.memory.list("alpha") == []


def test_recall_ranks_filters_and_explains(mem: corral.Client, clock: ManualClock) -> None:
    mem.memory.remember_many(
        "alpha",
        [
            {"content": "The staging database is PostgreSQL 16", "kind": "fact", "tags": ["db"]},
            {"content": "Prefer small pull requests", "kind": "preference"},
            {"content": "Rotate the database credentials monthly", "kind": "task"},
            {"content": "Lunch is at noon", "kind": "note"},
        ],
    )
    result = mem.memory.recall("alpha", "database credentials")
    assert result.hits[0].item.content == "Rotate the database credentials monthly"
    assert {h.item.content for h in result.hits} == {
        "Rotate the database credentials monthly",
        "The staging database is PostgreSQL 16",
    }
    top = result.hits[0]
    assert top.breakdown.matched_terms == ["databas", "credenti"]
    assert top.score == pytest.approx(
        top.breakdown.relevance
        * top.breakdown.recency_factor
        * top.breakdown.pinned_factor
        * top.breakdown.importance_factor
    )
    assert [h.item.kind for h in mem.memory.recall("alpha", "database", kinds=["fact"]).hits] == [
        "fact"
    ]
    assert [h.item.tags for h in mem.memory.recall("alpha", "database", tags=["db"]).hits] == [
        ["db"]
    ]
    assert mem.memory.recall("alpha", "the of and").hits == []


def test_pinned_and_recent_items_rank_higher(mem: corral.Client, clock: ManualClock) -> None:
    old = mem.memory.remember("alpha", "cache invalidation notes", kind="note")
    clock.advance(timedelta(days=90))
    new = mem.memory.remember("alpha", "cache warming notes", kind="note")
    hits = mem.memory.recall("alpha", "cache notes").hits
    assert [h.item.id for h in hits] == [new.item.id, old.item.id]
    assert hits[0].breakdown.recency > hits[1].breakdown.recency
    mem.memory.update("alpha", old.item.id, pinned=True)
    hits = mem.memory.recall("alpha", "cache notes").hits
    assert hits[0].item.id == old.item.id
    assert hits[0].breakdown.pinned_factor > 1


def test_forget_leaves_no_ghost(mem: corral.Client, runtime: Runtime) -> None:
    kept = mem.memory.remember("alpha", "zebra crossing near the office")
    gone = mem.memory.remember("alpha", "zebra stripes are unique", key="zebra")
    mem.memory.update("alpha", gone.item.id, content="zebra stripes are unique, like prints")
    mem.memory.forget("alpha", gone.item.id)
    assert [h.item.id for h in mem.memory.recall("alpha", "zebra stripes").hits] == [kept.item.id]
    with pytest.raises(corral.NotFound):
        mem.memory.get("alpha", gone.item.id)
    with pytest.raises(corral.NotFound):
        mem.memory.history("alpha", gone.item.id)
    with runtime.db.read() as uow:
        terms = dict(uow.execute(select(MemoryTermRow.term, MemoryTermRow.df)).all())
        stats = uow.scalars(select(MemoryStatsRow)).one()
        audit = uow.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "memory.forget")
        ).one()
    assert "stripe" not in terms
    assert terms["zebra"] == 1
    assert (stats.doc_count, stats.total_terms) == (1, 4)
    assert audit.target_id == str(gone.item.id)
    assert "stripes" not in json.dumps(audit.details)


def test_tasks_and_the_brief(mem: corral.Client) -> None:
    rule = mem.memory.remember("alpha", "Never push to main", kind="constraint", pinned=True)
    decision = mem.memory.remember("alpha", "Use FastAPI", kind="decision", key="framework")
    task = mem.memory.remember("alpha", "Write the migration", kind="task")
    assert task.item.status == "open"
    mem.memory.update_brief("alpha", goal="Ship the billing service", directory="docs/ — guides")
    brief = mem.memory.brief("alpha")
    assert [r.id for r in brief.rules] == [rule.item.id]
    assert [d.id for d in brief.decisions] == [decision.item.id]
    assert [t.id for t in brief.open_tasks] == [task.item.id]
    assert "## Goal\n\nShip the billing service" in brief.markdown
    assert "- **framework**: Use FastAPI" in brief.markdown
    done = mem.memory.complete("alpha", task.item.id)
    assert done.status == "done"
    after = mem.memory.brief("alpha")
    assert after.open_tasks == []
    assert after.goal == "Ship the billing service"  # people's sections survive regeneration
    with pytest.raises(corral.InvalidRequest):
        mem.memory.update("alpha", rule.item.id, status="done")


def test_restore_fits_the_budget(mem: corral.Client) -> None:
    mem.memory.update_brief("alpha", goal="Keep the payments API fast and correct")
    mem.memory.remember(
        "alpha", "All amounts are integers in cents", kind="constraint", pinned=True
    )
    mem.memory.remember_many(
        "alpha",
        [
            {"content": f"Decision {i}: use library number {i} for parsing", "kind": "decision"}
            for i in range(60)
        ]
        + [{"content": f"Retry failed webhooks, attempt {i}", "kind": "fact"} for i in range(40)],
    )
    pack = mem.memory.restore("alpha", task="webhook retries", budget=300)
    assert pack.tokens == count_tokens(pack.markdown) <= 300
    assert "All amounts are integers in cents" in pack.markdown
    assert "Keep the payments API fast" in pack.markdown
    assert pack.omitted
    big = mem.memory.restore("alpha", task="webhook retries", budget=20000)
    assert big.tokens <= 20000
    assert len(big.decisions) == 60
    assert any("webhooks" in h.item.content for h in big.relevant)
    assert big.markdown.index("## Goal") < big.markdown.index("## Rules")


def test_open_recent_is_per_caller_and_fuzzy(
    http: TestClient, world: World, clock: ManualClock
) -> None:
    admin = world.admin
    admin.projects.create("gamma-web")
    admin.projects.create("gamma-api")
    admin.memory.remember("beta", "beta work")
    clock.advance(timedelta(minutes=5))
    member = as_key(http, world.member_key)
    member.memory.remember("alpha", "alpha work")
    clock.advance(timedelta(minutes=5))
    admin.memory.remember("gamma-web", "web work")
    # Each caller gets the project of their own latest activity.
    assert member.memory.open_recent().project == "alpha"
    assert admin.memory.open_recent().project == "gamma-web"
    clock.advance(timedelta(minutes=5))
    admin.memory.recall("beta", "work")
    assert admin.memory.open_recent().project == "beta"
    assert admin.memory.open("gamma-we").project == "gamma-web"
    assert admin.memory.open("gama-api").project == "gamma-api"
    with pytest.raises(corral.InvalidRequest) as err:
        admin.memory.open("gamma")
    assert err.value.code == "ambiguous_project"
    # Fuzzy opening never reveals a project the caller cannot reach.
    with pytest.raises(corral.Forbidden) as denied:
        member.memory.open("bet")
    assert denied.value.code == "project_access_denied"


def test_unknown_project_and_missing_access(http: TestClient, world: World) -> None:
    with pytest.raises(corral.NotFound) as err:
        world.admin.memory.recall("ghost", "anything")
    assert err.value.code == "project_not_found"
    other = as_key(http, world.other_project_key)
    for project in ("alpha", "ghost"):
        with pytest.raises(corral.Forbidden) as denied:
            other.memory.recall(project, "anything")
        assert denied.value.code == "project_access_denied"
    viewer = as_key(http, world.viewer_key)
    with pytest.raises(corral.Forbidden) as refused:
        viewer.memory.remember("alpha", "viewers cannot write")
    assert refused.value.code == "permission_denied"


def test_recall_across_needs_each_project(http: TestClient, world: World, runtime: Runtime) -> None:
    admin = world.admin
    admin.memory.remember("alpha", "shared vocabulary alpha")
    admin.memory.remember("beta", "shared vocabulary beta")
    both = admin.memory.recall_across(["alpha", "beta"], "shared vocabulary")
    assert {h.item.project for h in both.hits} == {"alpha", "beta"}
    member = as_key(http, world.member_key)
    with pytest.raises(corral.Forbidden):
        member.memory.recall_across(["alpha", "beta"], "shared vocabulary")
    with runtime.db.read() as uow:
        actions = uow.scalars(select(AuditEventRow.action)).all()
    assert "memory.recall_across" in actions


def test_export_import_round_trip(mem: corral.Client, world: World, clock: ManualClock) -> None:
    mem.memory.update_brief("alpha", goal="the goal", notes="some notes")
    old = mem.memory.remember("alpha", "v1 of the plan", kind="decision", key="plan")
    clock.advance(timedelta(hours=1))
    mem.memory.remember("alpha", "v2 of the plan", kind="decision", key="plan", supersede=True)
    task = mem.memory.remember("alpha", "ünïcode task ✓", kind="task", tags=["x"], session="s1")
    mem.memory.complete("alpha", task.item.id)
    exported = mem.memory.export("alpha")
    world.admin.projects.create("copy")
    result = mem.memory.import_jsonl("copy", exported)
    assert (result.imported, result.duplicates) == (3, 0)

    def strip(document: str) -> list[dict[str, object]]:
        lines = [json.loads(line) for line in document.splitlines()]
        ids = {line["id"]: n for n, line in enumerate(lines) if line.get("type") == "item"}
        for line in lines:
            line.pop("id", None)
            if line.get("superseded_by") is not None:
                line["superseded_by"] = ids[line["superseded_by"]]
            for version in line.get("history", []):
                if version["snapshot"].get("superseded_by") is not None:
                    version["snapshot"]["superseded_by"] = ids[version["snapshot"]["superseded_by"]]
        return lines

    assert strip(mem.memory.export("copy")) == strip(exported)
    assert [h.item.content for h in mem.memory.recall("copy", "plan").hits] == ["v2 of the plan"]
    assert old.item.id not in {i.id for i in mem.memory.list("copy", validity="all")}
    markdown = mem.memory.export("alpha", format="markdown")
    assert "## Goal" in markdown
    assert "v1 of the plan" in markdown


def test_import_reports_every_bad_line_and_stores_nothing(
    mem: corral.Client, http: TestClient, admin_key: str
) -> None:
    good = {
        "id": 1,
        "kind": "fact",
        "content": "fine",
        "valid_from": "2026-01-01T00:00:00Z",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    document = "\n".join(
        [
            json.dumps(good),
            "{not json",
            json.dumps({**good, "id": 2, "kind": "wish"}),
            json.dumps({**good, "id": 3, "superseded_by": 99}),
        ]
    )
    response = http.post(
        "/v1/projects/alpha/memory/import",
        content=document,
        headers={**bearer(admin_key), "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 422
    problems = response.json()["error"]["details"]["problems"]
    assert [p["line"] for p in problems] == [2, 3, 4]
    assert mem.memory.list("alpha") == []
