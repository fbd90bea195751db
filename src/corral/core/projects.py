"""Projects: the isolation boundary of everything Corral stores."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Update, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize, resolve_project
from corral.core.audit import record_audit
from corral.core.pagination import decode_cursor, encode_cursor
from corral.core.runtime import Runtime
from corral.db.schema import ProjectRow
from corral.errors import Conflict
from corral.schemas.access import Permission
from corral.schemas.common import Page
from corral.schemas.tenancy import Project, ProjectCreate, ProjectUpdate

ACTIVITY_RESOLUTION = timedelta(seconds=30)
"""``last_active_at`` moves at most this often per project, to keep hot paths free of writes."""


def describe_project(row: ProjectRow, actor: Principal) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        retention_days=row.retention_days,
        created_at=row.created_at,
        last_active_at=row.last_active_at,
        role=actor.role_in(row.id),
    )


def create_project(rt: Runtime, actor: Principal, body: ProjectCreate) -> Project:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    now = rt.clock.now()
    row = ProjectRow(
        name=body.name,
        description=body.description,
        retention_days=body.retention_days,
        created_at=now,
        last_active_at=now,
    )
    try:
        with rt.db.write() as uow:
            uow.add(row)
            uow.flush()
            record_audit(
                uow,
                actor=actor,
                action="project.create",
                target_kind="project",
                target_id=row.name,
                project=row,
                now=now,
            )
    except IntegrityError as exc:
        raise _name_taken(body.name) from exc
    return describe_project(row, actor)


def list_projects(
    rt: Runtime, actor: Principal, *, limit: int = 100, cursor: str | None = None
) -> Page[Project]:
    """Projects the caller can reach, most recently active first."""
    query = select(ProjectRow).order_by(ProjectRow.last_active_at.desc(), ProjectRow.id.desc())
    if cursor:
        last_active, last_id = decode_cursor(cursor, 2)
        moment = datetime.fromisoformat(str(last_active))
        query = query.where(
            or_(
                ProjectRow.last_active_at < moment,
                and_(ProjectRow.last_active_at == moment, ProjectRow.id < int(last_id)),
            )
        )
    scope = actor.project_scope()
    if scope is not None:
        query = query.where(ProjectRow.id.in_(scope))
    with rt.db.read() as uow:
        rows = uow.scalars(query.limit(limit + 1)).all()
    page = [describe_project(row, actor) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.last_active_at.isoformat(), last.id)
    return Page[Project](data=page, next_cursor=next_cursor)


def get_project(rt: Runtime, actor: Principal, name: str) -> Project:
    with rt.db.read() as uow:
        return describe_project(resolve_project(uow, actor, name, Permission.PROJECTS_READ), actor)


def update_project(rt: Runtime, actor: Principal, name: str, body: ProjectUpdate) -> Project:
    changes = body.model_dump(exclude_unset=True)
    # Renaming and retention change what others rely on; describing a project does not.
    needed = (
        Permission.PROJECTS_ADMIN
        if {"name", "retention_days"} & changes.keys()
        else Permission.PROJECTS_WRITE
    )
    try:
        with rt.db.write() as uow:
            row = resolve_project(uow, actor, name, needed)
            before = {field: getattr(row, field) for field in changes}
            for field, value in changes.items():
                setattr(row, field, value)
            uow.flush()
            record_audit(
                uow,
                actor=actor,
                action="project.update",
                target_kind="project",
                target_id=row.name,
                project=row,
                details={"before": before, "after": changes},
                now=rt.clock.now(),
            )
    except IntegrityError as exc:
        raise _name_taken(str(changes.get("name"))) from exc
    return describe_project(row, actor)


def delete_project(rt: Runtime, actor: Principal, name: str) -> None:
    """Delete a project and everything stored in it."""
    with rt.db.write() as uow:
        row = resolve_project(uow, actor, name, Permission.PROJECTS_ADMIN)
        authorize(actor, Permission.WORKSPACE_ADMIN)
        record_audit(
            uow,
            actor=actor,
            action="project.delete",
            target_kind="project",
            target_id=row.name,
            project=row,
            now=rt.clock.now(),
        )
        uow.execute(delete(ProjectRow).where(ProjectRow.id == row.id))


def touch_project(uow: Session, project_id: int, now: datetime) -> None:
    """Record activity in a project (what "the most recent project" is ordered by)."""
    uow.execute(touch_statement(project_id, now))


def touch_statement(project_id: int, now: datetime) -> Update:
    """The statement of :func:`touch_project`, for writers that run statements themselves."""
    return (
        update(ProjectRow)
        .where(
            ProjectRow.id == project_id,
            ProjectRow.last_active_at < now - ACTIVITY_RESOLUTION,
        )
        .values(last_active_at=now)
    )


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"a project named {name!r} already exists; choose another name.",
        code="project_exists",
        details={"project": name},
    )
