"""Retention: traces older than a project's ``retention_days`` are deleted, and traces can be
purged on demand (by age, session or user). Findings of the deleted sessions (and sessionless
traces) go with them, since they quote what the spans held.

Deletion goes trace by trace — a trace's spans and its rollup leave together — in chunks, so a
large purge never holds the database in one long transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.audit import record_audit
from corral.core.detection.store import forget_findings
from corral.core.runtime import Runtime
from corral.db.schema import ProjectRow, SessionRow, SpanRow, TraceRow
from corral.schemas.access import Permission
from corral.schemas.observability import PurgeResult, TracePurge

CHUNK = 500
"""Traces deleted per transaction."""


@dataclass
class _Counts:
    traces: int = 0
    spans: int = 0
    sessions: int = 0

    def result(self) -> PurgeResult:
        return PurgeResult(
            traces_deleted=self.traces, spans_deleted=self.spans, sessions_deleted=self.sessions
        )


def purge_traces(rt: Runtime, actor: Principal, project: str, body: TracePurge) -> PurgeResult:
    """Delete the traces of a project that match ``body``, audited as ``traces.purge``."""
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.PROJECTS_ADMIN)
    counts = _purge(
        rt, row.id, before=body.before, session_id=body.session_id, user_id=body.user_id
    )
    with rt.db.write() as uow:
        record_audit(
            uow,
            actor=actor,
            action="traces.purge",
            target_kind="project",
            target_id=row.name,
            project=uow.get(ProjectRow, row.id),
            details={
                "before": body.before.isoformat() if body.before else None,
                "session_id": body.session_id,
                "user_id": body.user_id,
                **counts.result().model_dump(),
            },
            now=rt.clock.now(),
        )
    return counts.result()


def enforce_retention(rt: Runtime) -> dict[str, PurgeResult]:
    """Delete what each project's retention no longer keeps (the ``trace-retention`` job).

    Returns what was deleted, by project name (projects with nothing to delete are left out).
    """
    now = rt.clock.now()
    with rt.db.read() as uow:
        projects = [
            (row.id, row.name, row.retention_days)
            for row in uow.scalars(select(ProjectRow).where(ProjectRow.retention_days.is_not(None)))
        ]
    results: dict[str, PurgeResult] = {}
    for project_id, name, days in projects:
        assert days is not None
        counts = _purge(rt, project_id, before=now - timedelta(days=days))
        if counts.traces or counts.sessions:
            results[name] = counts.result()
            with rt.db.write() as uow:
                record_audit(
                    uow,
                    actor=None,
                    action="traces.expire",
                    target_kind="project",
                    target_id=name,
                    project=uow.get(ProjectRow, project_id),
                    details={"retention_days": days, **counts.result().model_dump()},
                    now=now,
                )
    return results


def _purge(
    rt: Runtime,
    project_id: int,
    *,
    before: datetime | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
) -> _Counts:
    counts = _Counts()
    while True:
        with rt.db.write() as uow:
            query = select(TraceRow.id, TraceRow.trace_id).where(TraceRow.project_id == project_id)
            if before is not None:
                query = query.where(TraceRow.start_time < before)
            if session_id is not None:
                query = query.where(TraceRow.session_id == session_id)
            if user_id is not None:
                query = query.where(TraceRow.user_id == user_id)
            chunk = uow.execute(query.order_by(TraceRow.start_time).limit(CHUNK)).all()
            if not chunk:
                break
            trace_ids = [r.trace_id for r in chunk]
            forget_findings(uow, project_id, trace_ids=trace_ids)
            counts.spans += _rowcount(
                uow,
                delete(SpanRow).where(
                    SpanRow.project_id == project_id, SpanRow.trace_id.in_(trace_ids)
                ),
            )
            counts.traces += _rowcount(
                uow, delete(TraceRow).where(TraceRow.id.in_([r.id for r in chunk]))
            )
        if len(chunk) < CHUNK:
            break
    with rt.db.write() as uow:
        which = [SessionRow.project_id == project_id]
        if session_id is not None:
            which.append(SessionRow.session_id == session_id)
        elif before is not None:
            which.append(SessionRow.last_seen < before)
        if user_id is not None:
            which.append(SessionRow.user_id == user_id)
        gone = list(uow.scalars(select(SessionRow.session_id).where(*which)))
        forget_findings(uow, project_id, session_ids=gone)
        counts.sessions = _rowcount(uow, delete(SessionRow).where(*which))
    return counts


def _rowcount(uow: Session, statement: object) -> int:
    result = uow.execute(statement)  # type: ignore[call-overload]
    return int(getattr(result, "rowcount", 0) or 0)
