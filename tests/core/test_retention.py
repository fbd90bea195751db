"""Retention: the background job deletes what a project's retention no longer keeps."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

import corral
from corral.core.clock import ManualClock
from corral.core.jobs import JobRunner
from corral.core.retention import enforce_retention
from corral.core.runtime import Runtime
from corral.core.schedule import background_jobs
from corral.db.schema import AuditEventRow
from tests.server.otlp_helpers import export, post_protobuf, span

DAY_MS = 24 * 3600 * 1000


def test_the_job_deletes_traces_past_retention_and_audits_it(
    runtime: Runtime, clock: ManualClock, http: TestClient, admin: corral.Client
) -> None:
    admin.projects.create("short", retention_days=7)
    admin.projects.create("forever")
    for project in ("short", "forever"):
        for trace, day in ((1, 0), (2, 5)):
            session = {"gen_ai__conversation__id": f"s{trace}"}
            body = export(span(trace, 1, start_ms=day * DAY_MS, **session), project=project)
            assert post_protobuf(http, admin.api_key or "", body).status_code == 200
    clock.advance(timedelta(days=8))  # trace 1 is 8 days old, trace 2 is 3 days old
    assert enforce_retention(runtime)["short"].model_dump() == {
        "traces_deleted": 1,
        "spans_deleted": 1,
        "sessions_deleted": 1,
    }
    assert [t.session_id for t in admin.traces.list("short")] == ["s2"]
    assert [s.session_id for s in admin.sessions.list("short")] == ["s2"]
    assert len(admin.traces.list("forever")) == 2
    assert enforce_retention(runtime) == {}  # nothing left to do
    with runtime.db.read() as uow:
        events = uow.scalars(select(AuditEventRow).where(AuditEventRow.action == "traces.expire"))
        assert [(e.project_name, e.actor_kind) for e in events] == [("short", "system")]


def test_retention_is_a_registered_background_job(runtime: Runtime) -> None:
    jobs = {job.name: job for job in background_jobs(runtime.settings)}
    assert jobs["trace-retention"].run is enforce_retention
    assert jobs["trace-retention"].interval_seconds == runtime.settings.retention_interval_seconds
    JobRunner(runtime, list(jobs.values())).run_due()  # runs under leadership without error


def test_statistics_job_runs_on_both_databases(runtime: Runtime) -> None:
    from corral.core.statistics import refresh_trace_statistics

    refresh_trace_statistics(runtime)
    jobs = {job.name for job in background_jobs(runtime.settings)}
    assert "trace-statistics" in jobs
