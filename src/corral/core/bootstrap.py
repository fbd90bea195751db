"""First start: the workspace, its first administrator and an admin key."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from corral.core.keys import mint_admin_key
from corral.core.runtime import Runtime
from corral.db.schema import UserRow, WorkspaceRow


def bootstrap_workspace(rt: Runtime) -> str | None:
    """Create the workspace, an admin user and an admin key if the database has no workspace.

    Returns the new admin key (the only time it can be shown), or None when the workspace already
    existed. Safe when several replicas start at once: the workspace row has a fixed id, so only
    one of them can insert it and the others find it there.
    """
    now = rt.clock.now()
    try:
        with rt.db.write() as uow:
            if uow.get(WorkspaceRow, 1) is not None:
                return None
            uow.add(WorkspaceRow(id=1, name=rt.settings.workspace_name, created_at=now))
            uow.flush()
            uow.add(
                UserRow(
                    email=rt.settings.admin_email,
                    name="Administrator",
                    workspace_admin=True,
                    disabled=False,
                    created_at=now,
                )
            )
            uow.flush()
            return mint_admin_key(uow, name="initial admin key", now=now)
    except IntegrityError:
        return None
