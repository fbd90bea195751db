from __future__ import annotations

from corral.core.jobs import Job, JobRunner
from corral.core.runtime import Runtime
from corral.db.leadership import lead


def test_only_one_leader_at_a_time(runtime: Runtime) -> None:
    with lead(runtime.db, "retention") as first:
        assert first
        with lead(runtime.db, "retention") as second, lead(runtime.db, "outbox") as other:
            assert not second
            assert other
    with lead(runtime.db, "retention") as again:
        assert again


def test_runner_runs_due_jobs_and_survives_failures(runtime: Runtime) -> None:
    ran: list[str] = []

    def broken(_rt: Runtime) -> None:
        raise RuntimeError("boom")

    runner = JobRunner(
        runtime,
        [Job("broken", 60, broken), Job("counter", 60, lambda rt: ran.append("counter"))],
    )
    runner.run_due()
    runner.run_due()  # not due again yet
    assert ran == ["counter"]


def test_runner_skips_a_job_another_process_leads(runtime: Runtime) -> None:
    ran: list[str] = []
    runner = JobRunner(runtime, [Job("busy", 60, lambda rt: ran.append("busy"))])
    with lead(runtime.db, "busy"):
        runner.run_due()
    assert ran == []
