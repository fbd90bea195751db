"""Server status and readiness."""

from __future__ import annotations

from sqlalchemy import select, text

from corral.core.access import Principal
from corral.core.runtime import Runtime
from corral.db import migrate
from corral.db.schema import ProjectRow, WorkspaceRow
from corral.schemas.status import Status, Whoami


def whoami(rt: Runtime, actor: Principal) -> Whoami:
    with rt.db.read() as uow:
        query = select(ProjectRow.id, ProjectRow.name).order_by(ProjectRow.name)
        scope = actor.project_scope()
        if scope is not None:
            query = query.where(ProjectRow.id.in_(scope))
        roles = {
            name: role
            for pid, name in uow.execute(query)
            if (role := actor.role_in(pid)) is not None
        }
    return Whoami(
        kind=actor.kind,
        id=actor.id,
        name=actor.name,
        workspace_admin=actor.workspace_admin,
        key_id=actor.key_id,
        roles=roles,
        key_permissions=None if actor.key_permissions is None else sorted(actor.key_permissions),
    )


def server_status(rt: Runtime, actor: Principal, *, version: str) -> Status:
    with rt.db.read() as uow:
        workspace = uow.get(WorkspaceRow, 1)
    return Status(
        version=version,
        workspace=workspace.name if workspace else "",
        database=rt.db.dialect,
        schema_revision=migrate.current_revision(rt.db),
        principal=whoami(rt, actor),
    )


def readiness_problem(rt: Runtime) -> str | None:
    """None when the server can serve: the database answers and its schema is current."""
    try:
        with rt.db.read() as uow:
            uow.execute(text("SELECT 1"))
        revision = migrate.current_revision(rt.db)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return f"database unreachable: {type(exc).__name__}"
    if revision != migrate.head_revision():
        return (
            f"database schema at {revision}, expected {migrate.head_revision()}: "
            "run `corral db upgrade`"
        )
    return None
