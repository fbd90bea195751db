"""The circuit breaker: a critical finding of a type a project chose (``halt_on``) halts its
session; the gateway and SDK users check :func:`check_session_not_halted` before each call, and
the session stays halted until a person resumes it.

A halt is a row, so every replica sees it at once; at most one halt per session is active (a
partial unique index), so two replicas detecting the same failure halt it once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.audit import record_audit
from corral.core.runtime import Runtime
from corral.db.prebuilt import ByKeys
from corral.db.schema import FindingRow, ProjectRow, SessionHaltRow
from corral.db.upsert import insert_ignoring_conflicts
from corral.errors import Conflict, SessionHalted
from corral.schemas.access import Permission
from corral.schemas.detection import SessionClearance, SessionHalt, SessionResume

__all__ = [
    "SessionHalted",
    "active_halt",
    "check_session_not_halted",
    "halt_session",
    "list_halts",
    "resume_session",
    "session_clearance",
]


def active_halt(uow: Session, project_id: int, session_id: str) -> SessionHaltRow | None:
    return uow.scalars(
        select(SessionHaltRow).where(
            SessionHaltRow.project_id == project_id,
            SessionHaltRow.session_id == session_id,
            SessionHaltRow.resumed_at.is_(None),
        )
    ).one_or_none()


_ACTIVE_HALT_EXISTS = (
    select(SessionHaltRow.id)
    .where(
        SessionHaltRow.project_id == bindparam("project_id"),
        SessionHaltRow.session_id == bindparam("session_id"),
        SessionHaltRow.resumed_at.is_(None),
    )
    .limit(1)
)
"""Built once: it is asked on the gateway's call path, where building a statement (and its
cache key) anew each time cost more than the lookup."""
HALTED_SESSIONS = ByKeys(
    lambda match: select(SessionHaltRow.session_id).where(
        SessionHaltRow.project_id == bindparam("project_id"),
        match,
        SessionHaltRow.resumed_at.is_(None),
    ),
    SessionHaltRow.session_id.expression,
    String(),
)
"""Which of a project's sessions are halted, of those asked (the gateway's calls held together
ask for theirs at once)."""


def check_session_not_halted(uow: Session, project_id: int, session_id: str) -> None:
    """Raise :class:`SessionHalted` (HTTP 409, code ``session_halted``) naming the finding if
    the session is halted; return quietly otherwise. One indexed lookup, for the call path."""
    terms = {"project_id": project_id, "session_id": session_id}
    if uow.execute(_ACTIVE_HALT_EXISTS, terms).first() is None:
        return
    halt = active_halt(uow, project_id, session_id)
    if halt is None:  # resumed between the two reads
        return
    project = uow.get(ProjectRow, project_id)
    name = project.name if project is not None else str(project_id)
    finding = f"finding {halt.finding_id}" if halt.finding_id is not None else "a finding"
    raise SessionHalted(
        f"session {session_id!r} is halted by {finding} ({halt.finding_type}): {halt.reason} "
        f"A person must resume it: `corral sessions resume {name} {session_id}`.",
        details={
            "project": name,
            "session_id": session_id,
            "finding_id": halt.finding_id,
            "finding_type": halt.finding_type,
            "reason": halt.reason,
            "halted_at": halt.halted_at.isoformat(),
        },
    )


def halt_session(
    uow: Session, project: ProjectRow, session_id: str, finding: FindingRow, now: datetime
) -> bool:
    """Halt a session because of ``finding``, in the caller's unit of work (audited as
    ``session.halt`` by Corral itself). Returns False when it was halted already."""
    inserted = insert_ignoring_conflicts(
        uow,
        SessionHaltRow.__table__,  # type: ignore[arg-type]
        [
            {
                "project_id": project.id,
                "session_id": session_id,
                "finding_id": finding.id,
                "finding_type": finding.type,
                "reason": finding.explanation[:2000],
                "halted_at": now,
            }
        ],
    )
    if not inserted:
        return False
    record_audit(
        uow,
        actor=None,
        action="session.halt",
        target_kind="session",
        target_id=session_id,
        project=project,
        details={"finding_id": finding.id, "finding_type": finding.type},
        now=now,
    )
    return True


def describe_halt(row: SessionHaltRow, project: str) -> SessionHalt:
    return SessionHalt(
        id=row.id,
        project=project,
        session_id=row.session_id,
        finding_id=row.finding_id,
        finding_type=row.finding_type,
        reason=row.reason,
        halted_at=row.halted_at,
        resumed_at=row.resumed_at,
        resumed_by=row.resumed_by,
        resume_note=row.resume_note,
    )


def session_clearance(
    rt: Runtime, actor: Principal, project: str, session_id: str
) -> SessionClearance:
    """For SDK users: may this session go on? Raises :class:`SessionHalted` when it may not."""
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        check_session_not_halted(uow, row.id, session_id)
    return SessionClearance(session_id=session_id)


def resume_session(
    rt: Runtime, actor: Principal, project: str, session_id: str, body: SessionResume
) -> SessionHalt:
    """A person lets a halted session go on (audited as ``session.resume``)."""
    now = rt.clock.now()
    with rt.db.write() as uow:
        row = resolve_project(uow, actor, project, Permission.TRACES_WRITE)
        halt = active_halt(uow, row.id, session_id)
        if halt is None:
            raise Conflict(
                f"session {session_id!r} of project {project!r} is not halted.",
                code="session_not_halted",
            )
        halt.resumed_at, halt.resumed_by, halt.resume_note = now, actor.name, body.note
        record_audit(
            uow,
            actor=actor,
            action="session.resume",
            target_kind="session",
            target_id=session_id,
            project=row,
            details={"halt_id": halt.id, "finding_id": halt.finding_id, "note": body.note},
            now=now,
        )
        return describe_halt(halt, row.name)


def list_halts(
    rt: Runtime,
    actor: Principal,
    project: str,
    *,
    session_id: str | None = None,
    active: bool = True,
    limit: int = 100,
) -> list[SessionHalt]:
    """Halts of a project, newest first: only the active ones unless ``active`` is False."""
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        query = select(SessionHaltRow).where(SessionHaltRow.project_id == row.id)
        if session_id is not None:
            query = query.where(SessionHaltRow.session_id == session_id)
        if active:
            query = query.where(SessionHaltRow.resumed_at.is_(None))
        rows = uow.scalars(
            query.order_by(SessionHaltRow.halted_at.desc(), SessionHaltRow.id.desc()).limit(limit)
        ).all()
        return [describe_halt(r, row.name) for r in rows]
