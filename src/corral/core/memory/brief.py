"""The project brief: fixed sections, part written by people, part generated from items.

Goal, Directory and Notes are stored as people wrote them and only change when someone edits
them. Rules, Decisions and Open tasks are never stored: they are generated from the current
constraints, decisions and open tasks every time the brief is read, so they cannot go stale and
an edit can never be overwritten by a regeneration. To change a rule, remember (or supersede) a
constraint; the brief follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from corral.core.access import Principal
from corral.core.memory.describe import describe_item
from corral.core.memory.scope import activity_is_stale, enter, note_read, record_activity
from corral.core.memory.store import ItemFilter, ProjectMemory
from corral.core.runtime import Runtime
from corral.db.schema import MemoryItemRow
from corral.errors import InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.memory import Brief, BriefUpdate, MemoryKind, TaskStatus

SECTION_LIMIT = 200
"""Entries per generated section of the brief (the newest and most important first)."""
SECTIONS = ("Goal", "Rules", "Decisions", "Open tasks", "Directory", "Notes")


@dataclass(frozen=True)
class BriefParts:
    goal: str
    rules: list[MemoryItemRow]
    decisions: list[MemoryItemRow]
    open_tasks: list[MemoryItemRow]
    directory: str
    notes: str
    updated_at: datetime | None
    updated_by: str | None


def _ordered(rows: Sequence[MemoryItemRow]) -> list[MemoryItemRow]:
    return sorted(rows, key=lambda r: (not r.pinned, -r.importance, -r.id))


def brief_parts(mem: ProjectMemory, now: datetime) -> BriefParts:
    def current(kind: MemoryKind, *status: TaskStatus) -> list[MemoryItemRow]:
        where = ItemFilter(
            kinds=(kind.value,), status=tuple(s.value for s in status), current_at=now
        )
        return _ordered(mem.find(where, limit=SECTION_LIMIT))

    stored = mem.brief()
    return BriefParts(
        goal=stored.goal if stored else "",
        rules=current(MemoryKind.CONSTRAINT),
        decisions=current(MemoryKind.DECISION),
        open_tasks=current(MemoryKind.TASK, TaskStatus.OPEN, TaskStatus.IN_PROGRESS),
        directory=stored.directory if stored else "",
        notes=stored.notes if stored else "",
        updated_at=stored.updated_at if stored else None,
        updated_by=stored.updated_by if stored else None,
    )


def item_line(row: MemoryItemRow) -> str:
    """How an item reads in the brief and the context pack."""
    marks = []
    if row.pinned:
        marks.append("pinned")
    if row.status == TaskStatus.IN_PROGRESS.value:
        marks.append("in progress")
    suffix = f" ({', '.join(marks)})" if marks else ""
    box = "[ ] " if row.kind == MemoryKind.TASK.value else ""
    subject = f"**{row.key}**: " if row.key else ""
    content = " ".join(row.content.split())
    return f"- {box}{subject}{content} [#{row.id}]{suffix}"


def render_markdown(project: str, parts: BriefParts) -> str:
    def block(title: str, body: str) -> str:
        return f"## {title}\n\n{body.strip() or '_(empty)_'}\n"

    def items(rows: Sequence[MemoryItemRow]) -> str:
        return "\n".join(item_line(r) for r in rows)

    return "\n".join(
        [
            f"# {project}\n",
            block("Goal", parts.goal),
            block("Rules", items(parts.rules)),
            block("Decisions", items(parts.decisions)),
            block("Open tasks", items(parts.open_tasks)),
            block("Directory", parts.directory),
            block("Notes", parts.notes),
        ]
    )


def _describe(project: str, parts: BriefParts) -> Brief:
    return Brief(
        project=project,
        goal=parts.goal,
        rules=[describe_item(r, project) for r in parts.rules],
        decisions=[describe_item(r, project) for r in parts.decisions],
        open_tasks=[describe_item(r, project) for r in parts.open_tasks],
        directory=parts.directory,
        notes=parts.notes,
        updated_at=parts.updated_at,
        updated_by=parts.updated_by,
        markdown=render_markdown(project, parts),
    )


def get_brief(rt: Runtime, actor: Principal, project: str) -> Brief:
    now = rt.clock.now()
    with rt.db.read() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_READ)
        parts = brief_parts(mem, now)
        stale = activity_is_stale(uow, actor, mem.project_id, now)
    note_read(rt, actor, mem.project, stale)
    return _describe(project, parts)


def update_brief(rt: Runtime, actor: Principal, project: str, body: BriefUpdate) -> Brief:
    """Edit the human-written sections; the generated ones cannot be edited here."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if not changes:
        raise InvalidRequest(
            "nothing to change: give goal, directory or notes. Rules, decisions and open tasks "
            "come from memory items (remember a constraint, decision or task).",
            code="empty_update",
        )
    now = rt.clock.now()
    with rt.db.write() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_WRITE)
        mem.save_brief(changes, actor.label, now)
        record_activity(uow, actor, mem.project, now)
        parts = brief_parts(mem, now)
    return _describe(project, parts)
