"""Reading, changing and forgetting single memory items."""

from __future__ import annotations

from datetime import datetime

from corral.core.access import Principal
from corral.core.audit import record_audit
from corral.core.memory import text
from corral.core.memory.describe import describe_item, describe_version
from corral.core.memory.remember import check_content_size, index_text
from corral.core.memory.scope import activity_is_stale, enter, note_read, record_activity
from corral.core.memory.store import ItemFilter, validity_bounds
from corral.core.pagination import decode_cursor, encode_cursor
from corral.core.runtime import Runtime
from corral.errors import InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.common import Page
from corral.schemas.memory import (
    ItemVersion,
    MemoryItem,
    MemoryItemUpdate,
    MemoryKind,
    TaskStatus,
    Validity,
)


def get_item(rt: Runtime, actor: Principal, project: str, item_id: int) -> MemoryItem:
    with rt.db.read() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_READ)
        return describe_item(mem.get(item_id), project)


def item_history(rt: Runtime, actor: Principal, project: str, item_id: int) -> list[ItemVersion]:
    """Every version of an item, oldest first."""
    with rt.db.read() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_READ)
        mem.get(item_id)
        return [describe_version(v) for v in mem.versions(item_id)]


def list_items(
    rt: Runtime,
    actor: Principal,
    project: str,
    *,
    kinds: tuple[MemoryKind, ...] = (),
    tags: tuple[str, ...] = (),
    key: str | None = None,
    status: tuple[TaskStatus, ...] = (),
    validity: Validity = Validity.CURRENT,
    pinned: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[MemoryItem]:
    """Items of a project, newest first, with the same filters as recall (and ``status``,
    ``pinned``)."""
    now = rt.clock.now()
    current, ended = validity_bounds(validity.value, now)
    if status and not kinds:
        kinds = (MemoryKind.TASK,)  # only tasks have a status, and the kind is indexed
    where = ItemFilter(
        kinds=tuple(k.value for k in kinds),
        tags=tags,
        key=key,
        status=tuple(s.value for s in status),
        current_at=current,
        ended_at=ended,
        pinned=pinned,
        since=since,
        until=until,
    )
    before = int(decode_cursor(cursor, 1)[0]) if cursor else None
    with rt.db.read() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_READ)
        rows = mem.find(where, limit=limit + 1, before_id=before)
        stale = activity_is_stale(uow, actor, mem.project_id, now)
        project_row = mem.project
    note_read(rt, actor, project_row, stale)
    page = [describe_item(row, project) for row in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[MemoryItem](data=page, next_cursor=next_cursor)


def update_item(
    rt: Runtime, actor: Principal, project: str, item_id: int, body: MemoryItemUpdate
) -> MemoryItem:
    """Change an item in place; the previous state stays in its history."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidRequest("nothing to change: give at least one field.", code="empty_update")
    if body.content is not None:
        check_content_size(rt, body.content)
    now = rt.clock.now()
    with rt.db.write() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_WRITE)
        row = mem.get(item_id)
        if "status" in changes and row.kind != MemoryKind.TASK.value:
            raise InvalidRequest(
                f"only tasks have a status; item {item_id} is a {row.kind}.",
                code="status_needs_task",
            )
        if changes.get("valid_to") is not None and changes["valid_to"] <= row.valid_from:
            raise InvalidRequest("valid_to must be after valid_from.", code="invalid_validity")
        for name in ("pinned", "importance", "valid_to"):
            if name in changes:
                setattr(row, name, changes[name])
        if "status" in changes:
            row.status = body.status.value if body.status else None
        if body.tags is not None:
            row.tags = list(dict.fromkeys(body.tags))
        if body.content is not None:
            row.content = body.content
            row.content_hash = text.content_hash(body.content)
        if body.content is not None or body.tags is not None:
            indexed = index_text(mem, row.content, row.key, row.tags)
            mem.reindex(row, indexed.search_text, indexed.term_count)
        change = "completed" if changes.get("status") == TaskStatus.DONE else "updated"
        mem.record_change(row, actor.label, change, now)
        record_activity(uow, actor, mem.project, now)
        uow.flush()
        return describe_item(row, project)


def complete_task(rt: Runtime, actor: Principal, project: str, item_id: int) -> MemoryItem:
    """Mark a task done (it leaves the brief's open tasks)."""
    return update_item(rt, actor, project, item_id, MemoryItemUpdate(status=TaskStatus.DONE))


def forget_item(rt: Runtime, actor: Principal, project: str, item_id: int) -> None:
    """Delete an item for good: its row, its history and its index entries go in one
    transaction, so no search can return it afterwards. The audit event keeps who forgot what
    kind of item, never its content."""
    now = rt.clock.now()
    with rt.db.write() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_WRITE)
        row = mem.get(item_id)
        details = {"kind": row.kind, "key": row.key, "versions": row.version}
        mem.delete(row)
        record_audit(
            uow,
            actor=actor,
            action="memory.forget",
            target_kind="memory_item",
            target_id=item_id,
            project=mem.project,
            details=details,
            now=now,
        )
        record_activity(uow, actor, mem.project, now)
