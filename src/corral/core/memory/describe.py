"""Memory rows as API bodies."""

from __future__ import annotations

from typing import Any

from corral.db.schema import MemoryItemRow, MemoryVersionRow
from corral.schemas.memory import (
    ItemVersion,
    MemoryItem,
    MemoryKind,
    MemorySource,
    TaskStatus,
)


def describe_item(row: MemoryItemRow, project: str) -> MemoryItem:
    return MemoryItem(
        id=row.id,
        project=project,
        kind=MemoryKind(row.kind),
        key=row.key,
        content=row.content,
        tags=list(row.tags),
        source=MemorySource(row.source),
        session=row.session,
        author=row.author,
        pinned=row.pinned,
        importance=row.importance,
        status=TaskStatus(row.status) if row.status else None,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        superseded_by=row.superseded_by,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def describe_values(item_id: int, values: dict[str, Any], project: str) -> MemoryItem:
    """An item as just inserted, from the values written (no read back)."""
    return MemoryItem(
        id=item_id,
        project=project,
        kind=MemoryKind(values["kind"]),
        key=values["key"],
        content=values["content"],
        tags=list(values["tags"]),
        source=MemorySource(values["source"]),
        session=values["session"],
        author=values["author"],
        pinned=values["pinned"],
        importance=values["importance"],
        status=TaskStatus(values["status"]) if values["status"] else None,
        valid_from=values["valid_from"],
        valid_to=values["valid_to"],
        superseded_by=values["superseded_by"],
        version=values["version"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


def describe_version(row: MemoryVersionRow) -> ItemVersion:
    return ItemVersion(
        version=row.version,
        changed_at=row.changed_at,
        actor=row.actor,
        change=row.change,
        snapshot=dict(row.snapshot),
    )
