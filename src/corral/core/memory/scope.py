"""Entering a project's memory: the access check, and the caller's activity that "open most
recent" is ordered by."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.memory.store import ProjectMemory
from corral.core.projects import touch_project
from corral.core.runtime import Runtime
from corral.db.schema import MemoryActivityRow, ProjectRow
from corral.schemas.access import Permission

ACTIVITY_RESOLUTION = timedelta(seconds=30)
"""A caller's activity in a project is written at most this often (reads stay read-only)."""


def enter(uow: Session, actor: Principal, project: str, permission: Permission) -> ProjectMemory:
    """The memory of a project the caller may use with ``permission`` (403/404 otherwise)."""
    return ProjectMemory(uow, resolve_project(uow, actor, project, permission))


def record_activity(uow: Session, actor: Principal, project: ProjectRow, now: datetime) -> None:
    """Mark that ``actor`` worked in ``project`` now (per caller, and on the project)."""
    values = {
        "principal_kind": actor.kind,
        "principal_id": actor.id,
        "project_id": project.id,
        "last_active_at": now,
    }
    module: Any = postgresql if uow.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(MemoryActivityRow).values(**values)
    uow.execute(
        statement.on_conflict_do_update(
            index_elements=["principal_kind", "principal_id", "project_id"],
            set_={"last_active_at": now},
        )
    )
    touch_project(uow, project.id, now)


def activity_is_stale(uow: Session, actor: Principal, project_id: int, now: datetime) -> bool:
    last = uow.scalars(
        select(MemoryActivityRow.last_active_at).where(
            MemoryActivityRow.principal_kind == actor.kind,
            MemoryActivityRow.principal_id == actor.id,
            MemoryActivityRow.project_id == project_id,
        )
    ).one_or_none()
    return last is None or now - last >= ACTIVITY_RESOLUTION


def note_read(rt: Runtime, actor: Principal, project: ProjectRow, stale: bool) -> None:
    """After a read: record the caller's activity if the stored mark is old."""
    if stale:
        with rt.db.write() as uow:
            record_activity(uow, actor, project, rt.clock.now())
