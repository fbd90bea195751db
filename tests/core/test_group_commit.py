"""Group commit: transactions at once per database, and work deferred to the commit in one order."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corral.core.group_commit import defer_before_commit, group_committer
from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.db.schema import ProjectRow, SessionRow, SpanRow, TraceRow
from tests.core.test_span_store import START, batch

WAIT = 30.0
"""Seconds a test waits for another thread before it fails (never reached when it passes)."""


def test_postgresql_runs_a_second_transaction_while_the_first_is_open(runtime: Runtime) -> None:
    committer = group_committer(runtime)
    first_open, second_done = threading.Event(), threading.Event()
    overlapped: list[bool] = []

    def first(uow: Session, now: datetime) -> None:
        first_open.set()
        # On PostgreSQL the second writer commits meanwhile; on SQLite it waits for this one.
        overlapped.append(second_done.wait(WAIT if not runtime.db.single_writer else 0.5))

    def second(uow: Session, now: datetime) -> None:
        second_done.set()

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(committer.run, first)
        assert first_open.wait(WAIT)
        pool.submit(committer.run, second).result(WAIT)
        running.result(WAIT)
    assert overlapped == [not runtime.db.single_writer]


def test_work_deferred_to_the_commit_runs_in_one_order_whoever_deferred_first(
    runtime: Runtime,
) -> None:
    committer = group_committer(runtime)
    finished: list[tuple[str, list[Any]]] = []

    def finish(name: str) -> Any:
        return lambda uow, items: finished.append((name, items))

    def piece(names: list[str]) -> Any:
        def work(uow: Session, now: datetime) -> None:
            for name in names:
                defer_before_commit(uow, name, finish(name), [name])

        return work

    committer.run(piece(["budget_settlements", "span_rollups"]))
    committer.run(piece(["span_rollups", "budget_settlements"]))
    # Budget counters last, just before the commit: every gateway call's hold waits for them.
    assert finished == [
        ("span_rollups", ["span_rollups"]),
        ("budget_settlements", ["budget_settlements"]),
        ("span_rollups", ["span_rollups"]),
        ("budget_settlements", ["budget_settlements"]),
    ]


def test_exports_holding_the_same_spans_in_any_order_are_stored_once(runtime: Runtime) -> None:
    with runtime.db.write() as uow:
        project = ProjectRow(name="p", description="", created_at=START, last_active_at=START)
        uow.add(project)
        uow.flush()
        project_id = project.id
    # Exporters retrying at once, each with the same spans in an order of its own: on
    # PostgreSQL their transactions run together and insert the same rows.
    exports = []
    for seed in range(16):
        spans = batch(1)
        random.Random(seed).shuffle(spans)
        exports.append(spans)
    with ThreadPoolExecutor(8) as pool:
        stored = list(pool.map(lambda spans: record_spans(runtime, [(project_id, spans)]), exports))
    assert sum(len(b.spans) for (b,) in stored) == 30
    assert sum(b.duplicates for (b,) in stored) == 15 * 30
    with runtime.db.read() as uow:
        assert uow.scalar(select(func.count()).select_from(SpanRow)) == 30
        assert uow.scalar(select(func.sum(TraceRow.span_count))) == 30
        assert uow.scalar(select(func.sum(SessionRow.span_count))) == 30
