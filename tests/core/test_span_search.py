"""Text search over span contents: the same answers through the index, through the scan of spans
not indexed yet, and through the trace-by-trace walk; deleted spans leave the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text

import corral
from corral.core import traces
from corral.core.normalize import NormalizedSpan
from corral.core.runtime import Runtime
from corral.core.schedule import background_jobs
from corral.core.span_index import index_span_text
from corral.core.span_store import record_spans
from corral.db import span_search
from corral.db.schema import ProjectRow, SpanRow

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _trace_id(number: int) -> str:
    return f"{number:032x}"


def _store(rt: Runtime, project: str, number: int, **fields: str) -> None:
    with rt.db.read() as uow:
        project_id = uow.scalars(select(ProjectRow.id).where(ProjectRow.name == project)).one()
    at = AT + timedelta(minutes=number)
    span = NormalizedSpan(
        trace_id=_trace_id(number),
        span_id=f"{number:016x}",
        parent_span_id=None,
        name="step",
        start_time=at,
        end_time=at + timedelta(seconds=1),
        **fields,  # type: ignore[arg-type]
    )
    record_spans(rt, [(project_id, [span])])


def _found(admin: corral.Client, project: str, query: str) -> list[str]:
    return sorted(t.trace_id for t in admin.traces.list(project, search=query))


def _pending(rt: Runtime) -> int:
    """Spans stored after the SQLite index's watermark (PostgreSQL indexes on insert)."""
    if rt.db.dialect != "sqlite":
        return 0
    with rt.db.read() as uow:
        statement = (
            "SELECT count(*) FROM spans WHERE id > (SELECT indexed_through FROM span_search_state)"
        )
        return int(uow.execute(text(statement)).scalar_one())


@pytest.fixture
def stored(runtime: Runtime, admin: corral.Client) -> Runtime:
    """Project ``alpha`` with an indexed span per searched field and one span not indexed yet."""
    admin.projects.create("alpha")
    _store(runtime, "alpha", 1, input_text="What is the Refund Policy for order 42?")
    _store(runtime, "alpha", 2, output_text="Refunds take 5 days.")
    _store(runtime, "alpha", 3, tool_arguments='{"order_id": "A-17", "note": "say \\"hi\\""}')
    _store(runtime, "alpha", 4, tool_result="rate: 50%_off NEAR(a b) -x *star*")
    assert index_span_text(runtime) == (4 if runtime.db.dialect == "sqlite" else 0)
    _store(runtime, "alpha", 5, input_text="a refund, not indexed yet")
    assert _pending(runtime) == (1 if runtime.db.dialect == "sqlite" else 0)
    return runtime


def test_search_finds_indexed_and_not_yet_indexed_spans(
    stored: Runtime, admin: corral.Client
) -> None:
    assert _found(admin, "alpha", "refund") == [_trace_id(n) for n in (1, 2, 5)]
    assert _found(admin, "alpha", "REFUND POLICY") == [_trace_id(1)]
    assert _found(admin, "alpha", "take 5 d") == [_trace_id(2)]  # substrings across words
    assert _found(admin, "alpha", "order_id") == [_trace_id(3)]
    assert _found(admin, "alpha", "no such text") == []
    # More trigrams than the index is asked for: the rest are checked on the candidates.
    assert _found(admin, "alpha", "what is the refund policy for order 42?") == [_trace_id(1)]
    assert _found(admin, "alpha", "what is the refund policy for order 43?") == []
    assert index_span_text(stored) == (1 if stored.db.dialect == "sqlite" else 0)
    assert _pending(stored) == 0
    assert _found(admin, "alpha", "refund") == [_trace_id(n) for n in (1, 2, 5)]
    assert _found(admin, "alpha", "t indexed y") == [_trace_id(5)]


@pytest.mark.parametrize(
    ("query", "numbers"),
    [
        ('"hi\\"', [3]),
        ('say \\"', [3]),
        ("50%_", [4]),
        ("%_o", [4]),
        ("NEAR(a b)", [4]),
        ("NEAR", [4]),
        ("-x", [4]),
        ("*star*", [4]),
        ("*", [4]),
        ('"', [3]),
        ("AND", []),
        ("a OR b", []),
        ('"" AND "', []),
        ("%", [4]),
        ("_", [3, 4]),
    ],
)
def test_query_syntax_is_literal_text(
    stored: Runtime, admin: corral.Client, query: str, numbers: list[int]
) -> None:
    assert _found(admin, "alpha", query) == [_trace_id(n) for n in numbers]


def test_nul_characters_are_refused_clearly(stored: Runtime, admin: corral.Client) -> None:
    with pytest.raises(corral.InvalidRequest, match="NUL"):
        admin.traces.list("alpha", search="a\x00bc")


def test_short_queries_are_scanned(stored: Runtime, admin: corral.Client) -> None:
    assert _found(admin, "alpha", "A-") == [_trace_id(3)]
    assert _found(admin, "alpha", "42") == [_trace_id(1)]
    assert _found(admin, "alpha", "é") == []


def test_common_text_walks_traces_with_the_same_answer(
    stored: Runtime, admin: corral.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_index = _found(admin, "alpha", "refund")
    monkeypatch.setattr(traces, "SEARCH_CANDIDATES", 1)
    assert _found(admin, "alpha", "refund") == by_index
    page = admin.traces.page("alpha", search="refund", limit=2)
    rest = admin.traces.page("alpha", search="refund", limit=2, cursor=page.next_cursor)
    assert [t.trace_id for t in page.data + rest.data] == by_index[::-1]


def test_search_combines_with_model_and_time(stored: Runtime, admin: corral.Client) -> None:
    _store(stored, "alpha", 6, input_text="refund for gpt", model="gpt-4o")
    index_span_text(stored)
    assert [t.trace_id for t in admin.traces.list("alpha", search="refund", model="gpt-4o")] == [
        _trace_id(6)
    ]
    later = (AT + timedelta(minutes=2)).isoformat()
    assert _found(admin, "alpha", "refund") == [_trace_id(n) for n in (1, 2, 5, 6)]
    found = sorted(t.trace_id for t in admin.traces.list("alpha", search="refund", since=later))
    assert found == [_trace_id(n) for n in (2, 5, 6)]


def test_projects_see_only_their_spans(stored: Runtime, admin: corral.Client) -> None:
    admin.projects.create("beta")
    _store(stored, "beta", 7, input_text="beta's own refund")
    index_span_text(stored)
    assert _found(admin, "beta", "refund") == [_trace_id(7)]
    assert _found(admin, "alpha", "beta's") == []


def test_purged_and_deleted_spans_leave_the_index(stored: Runtime, admin: corral.Client) -> None:
    index_span_text(stored)
    admin.traces.purge("alpha", before=AT + timedelta(minutes=2))
    assert _found(admin, "alpha", "refund") == [_trace_id(n) for n in (2, 5)]
    assert _indexed_rows(stored, "Refund Policy") == 0
    admin.projects.delete("alpha")
    assert _indexed_rows(stored, "Refunds take") == 0
    _check_index(stored)


def test_ids_reused_after_the_newest_spans_go_are_indexed_again(
    stored: Runtime, admin: corral.Client
) -> None:
    index_span_text(stored)
    with stored.db.write() as uow:
        newest = uow.scalars(select(func.max(SpanRow.id))).one()
        uow.execute(delete(SpanRow).where(SpanRow.id >= newest - 1))
    _check_index(stored)
    _store(stored, "alpha", 8, input_text="a fresh refund")
    assert _found(admin, "alpha", "fresh refund") == [_trace_id(8)]
    index_span_text(stored)
    assert _pending(stored) == 0
    assert _found(admin, "alpha", "fresh refund") == [_trace_id(8)]
    _check_index(stored)


def test_indexing_is_a_registered_background_job(runtime: Runtime) -> None:
    jobs = {job.name: job for job in background_jobs(runtime.settings)}
    assert jobs["span-search-index"].run is index_span_text


def _indexed_rows(rt: Runtime, phrase: str) -> int:
    """Spans the SQLite index still lists for ``phrase`` (whether or not they exist)."""
    if rt.db.dialect != "sqlite":
        return 0
    with rt.db.read() as uow:
        statement = text("SELECT count(*) FROM span_search WHERE span_search MATCH :q")
        return int(uow.execute(statement, {"q": span_search._fts_query(phrase)}).scalar_one())


def _check_index(rt: Runtime) -> None:
    """SQLite: the index holds exactly the stored spans up to the watermark."""
    if rt.db.dialect != "sqlite":
        return
    index_span_text(rt)  # the check compares the index with every stored span
    with rt.db.write() as uow:
        uow.execute(text("INSERT INTO span_search (span_search) VALUES ('integrity-check')"))


def test_the_index_job_steps_aside_for_waiting_ingest_up_to_its_lag_bound(
    stored: Runtime, admin: corral.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corral.core import span_index

    monkeypatch.setattr(span_index, "writers_waiting", lambda rt: True)
    _store(stored, "alpha", 6, input_text="another refund")
    if stored.db.dialect != "sqlite":  # PostgreSQL indexes on insert: nothing is left behind
        assert index_span_text(stored) == 0
        assert _found(admin, "alpha", "refund") == [_trace_id(n) for n in (1, 2, 5, 6)]
        return
    monkeypatch.setattr(span_index, "MAX_LAG", 2)
    assert index_span_text(stored) == 0  # two spans behind: ingest goes first
    assert _found(admin, "alpha", "refund") == [_trace_id(n) for n in (1, 2, 5, 6)]
    monkeypatch.setattr(span_index, "MAX_LAG", 1)
    assert index_span_text(stored) == 2  # past the bound: indexed all the same
    assert _pending(stored) == 0
    monkeypatch.setattr(span_index, "writers_waiting", lambda rt: False)
    _store(stored, "alpha", 7, input_text="refund again")
    monkeypatch.setattr(span_index, "MAX_LAG", 10)
    assert index_span_text(stored) == 1  # nobody waiting: indexed at once
