"""The projects whose memory a caller may read, most recently active first."""

from __future__ import annotations

from corral.core.access import Principal
from corral.core.memory.store import item_counts
from corral.core.projects import list_projects
from corral.core.runtime import Runtime
from corral.schemas.access import Permission
from corral.schemas.common import Page
from corral.schemas.memory import MemoryProjectSummary


def list_memory_projects(
    rt: Runtime, actor: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[MemoryProjectSummary]:
    """Projects ordered by ``last_active_at`` (which every memory write and read moves), each
    with its item count. A page holds at most ``limit`` projects; one the caller may not read
    memory in (a key limited to other permissions) is left out of its page."""
    projects = list_projects(rt, actor, limit=limit, cursor=cursor)
    readable = [p for p in projects.data if actor.may(Permission.MEMORY_READ, p.id)]
    with rt.db.read() as uow:
        counts = item_counts(uow, [p.id for p in readable])
    return Page[MemoryProjectSummary](
        data=[MemoryProjectSummary(project=p, items=counts.get(p.id, 0)) for p in readable],
        next_cursor=projects.next_cursor,
    )
