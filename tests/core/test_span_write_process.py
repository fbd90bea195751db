"""Span batches written from the SQLite write process: the same rows and rollups as written by the
server process, retries and concurrent writers included, and a write refused when what it was
planned from changed meanwhile."""

from __future__ import annotations

import concurrent.futures
import fcntl
import os
import signal

import pytest
from sqlalchemy import func, select

from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.db.database import sqlite_pragmas
from corral.db.schema import ProjectRow, SessionRow, SpanRow, TraceRow
from corral.db.write_process import ConditionalWrite, WriteProcess
from corral.errors import DatabaseBusy
from corral.settings import Settings
from corral.testing.traces import long_trace_steps
from tests.core.test_span_store import BATCHES, START, batch


@pytest.fixture
def writing(runtime: Runtime) -> Runtime:
    runtime.db.start_write_process()  # stopped with the runtime's database
    return runtime


def _project(rt: Runtime) -> int:
    with rt.db.write() as uow:
        project = ProjectRow(name="p", description="", created_at=START, last_active_at=START)
        uow.add(project)
        uow.flush()
        return project.id


def _totals(rt: Runtime) -> tuple[int | None, ...]:
    with rt.db.read() as uow:
        return (
            uow.scalar(select(func.count()).select_from(SpanRow)),
            uow.scalar(select(func.sum(TraceRow.span_count))),
            uow.scalar(select(func.count()).select_from(TraceRow)),
            uow.scalar(select(func.sum(SessionRow.span_count))),
            uow.scalar(select(func.sum(SessionRow.llm_calls))),
        )


def test_postgresql_has_no_write_process(writing: Runtime) -> None:
    if writing.db.dialect == "sqlite":
        assert writing.db.conditional_write(ConditionalWrite()) is True
    else:  # concurrent writers already: the server process writes itself
        assert writing.db.conditional_write(ConditionalWrite()) is None


def test_batches_from_the_write_process_keep_exact_rollups(
    writing: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id = _project(writing)
    # A second runtime with a write process of its own, as a second worker process would be.
    other = Runtime.from_settings(settings)
    other.db.start_write_process()
    conditional: list[bool | None] = []
    real = type(writing.db).conditional_write

    def counted(db: object, request: ConditionalWrite) -> bool | None:
        written = real(db, request)  # type: ignore[arg-type]
        conditional.append(written)
        return written

    monkeypatch.setattr(type(writing.db), "conditional_write", counted)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda n: record_spans((writing, other)[n % 2], [(project_id, batch(n))]),
                    range(BATCHES),
                )
            )
        retried = [record_spans(writing, [(project_id, batch(n))])[0] for n in range(BATCHES)]
    finally:
        other.db.dispose()
    assert _totals(writing) == (
        BATCHES * 30,
        BATCHES * 30,
        BATCHES * 10,
        BATCHES * 30,
        BATCHES * 20,
    )
    assert all(stored.spans == [] and stored.duplicates == 30 for stored in retried)
    if writing.db.dialect == "sqlite":
        assert None not in conditional
        assert conditional.count(True) >= BATCHES
    else:
        assert set(conditional) == {None}


def test_a_write_planned_from_what_changed_meanwhile_is_planned_again(
    writing: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id = _project(writing)
    first, second = batch(1)[:15], batch(1)[15:]  # one export's traces, in two exports
    real = type(writing.db).conditional_write
    answers: list[bool | None] = []

    def concurrent_export(db: object, request: ConditionalWrite) -> bool | None:
        # Another request stores the same traces between this one's plan and its write.
        monkeypatch.setattr(type(writing.db), "conditional_write", real)
        record_spans(writing, [(project_id, first)])
        answers.append(real(db, request))  # type: ignore[arg-type]
        return answers[-1]

    monkeypatch.setattr(type(writing.db), "conditional_write", concurrent_export)
    (stored,) = record_spans(writing, [(project_id, first + second)])
    assert (len(stored.spans), stored.duplicates) == (15, 15)
    assert _totals(writing)[:3] == (30, 30, 10)
    if writing.db.dialect == "sqlite":
        assert answers == [False]  # refused, then written by the server process


def test_a_batch_continuing_a_long_trace_checks_its_own_spans_only(
    writing: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id = _project(writing)
    for first in range(1, 1200, 300):
        record_spans(writing, [(project_id, long_trace_steps(first, 300))])
    requests: list[ConditionalWrite] = []
    real = type(writing.db).conditional_write

    def kept(db: object, request: ConditionalWrite) -> bool | None:
        requests.append(request)
        return real(db, request)  # type: ignore[arg-type]

    monkeypatch.setattr(type(writing.db), "conditional_write", kept)
    # An exporter's next batch: two spans sent before (a retry) and three new ones.
    (stored,) = record_spans(writing, [(project_id, long_trace_steps(1199, 5))])
    assert ([s.span_id for s in stored.spans], stored.duplicates) == (
        [f"{index:016x}" for index in (1201, 1202, 1203)],
        2,
    )
    assert _totals(writing)[:3] == (1203, 1203, 1)
    if writing.db.dialect == "sqlite":  # PostgreSQL checks inside its own transaction
        # What the write checks grows with the batch, not with the 1,200 spans stored.
        (request,) = requests
        _, (_, parameters, spans) = request.expected
        assert parameters[2:] == tuple(f"{index:016x}" for index in range(1199, 1204))
        assert spans == (("ab" * 16, f"{1199:016x}"), ("ab" * 16, f"{1200:016x}"))


def test_a_write_process_that_dies_is_replaced(writing: Runtime) -> None:
    if writing.db.dialect != "sqlite":
        assert writing.db.conditional_write(ConditionalWrite()) is None
        return
    project_id = _project(writing)
    process = writing.db._write_process
    assert process is not None
    first = process._process.submit(os.getpid).result()
    os.kill(first, signal.SIGKILL)
    record_spans(writing, [(project_id, batch(1))])  # written by the server process meanwhile
    record_spans(writing, [(project_id, batch(2))])  # and by a new write process
    assert _totals(writing)[:3] == (60, 60, 20)
    assert process._process.submit(os.getpid).result() != first


def test_a_write_that_waits_too_long_for_the_database_is_refused_as_busy(writing: Runtime) -> None:
    if writing.db.dialect != "sqlite":  # PostgreSQL has no write process
        assert writing.db.conditional_write(ConditionalWrite()) is None
        return
    lock = writing.db._file_lock
    assert lock is not None
    process = WriteProcess(
        str(writing.db.url.database),
        str(lock.path),
        synchronous="FULL",
        pragmas=sqlite_pragmas("FULL"),
        prepared_statements=8,
        wait_seconds=0.5,
    )
    process.start()
    try:
        with lock.path.open("a") as held:  # another process's writer holds the database
            fcntl.flock(held, fcntl.LOCK_EX)
            with pytest.raises(DatabaseBusy) as refused:
                process.write(ConditionalWrite())
            fcntl.flock(held, fcntl.LOCK_UN)
        assert (refused.value.status, refused.value.code) == (503, "database_busy")
        assert process.write(ConditionalWrite()) is True  # and writes again once it is free
    finally:
        process.stop()
