"""Restore: the context pack that lets an agent resume a project, and opening a project by a
fuzzy name or as "the one I worked on most recently".

Packing: entries are admitted in priority order while they fit the token budget — the goal,
pinned constraints, the other constraints, decisions, open tasks, the items most relevant to the
task (or, with no task, the newest other items), then the directory and notes — and then printed
in the brief's fixed section order. Once an entry does not fit, only shorter entries are tried.
Tokens are counted offline with cl100k_base, on the final Markdown, which never exceeds the
budget.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.memory.brief import BriefParts, brief_parts, item_line
from corral.core.memory.describe import describe_item
from corral.core.memory.recall import RecallQuery, search
from corral.core.memory.scope import activity_is_stale, enter, note_read
from corral.core.memory.store import ItemFilter, ProjectMemory
from corral.core.runtime import Runtime
from corral.core.tokens import count_tokens
from corral.db.schema import MemoryActivityRow, MemoryItemRow, ProjectRow
from corral.errors import InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.memory import ContextPack, MemoryKind, RecallHit

RELEVANT_LIMIT = 30
MIN_ENTRY_TOKENS = 6
"""No entry costs fewer tokens than this ("- x [#1]" and its line break)."""
TEXT_SECTIONS = ("goal", "directory", "notes")
ORDER = ("goal", "rules", "decisions", "open_tasks", "relevant", "directory", "notes")
TITLES = {
    "goal": "Goal",
    "rules": "Rules",
    "decisions": "Decisions",
    "open_tasks": "Open tasks",
    "relevant": "Relevant",
    "directory": "Directory",
    "notes": "Notes",
}


@dataclass
class _Packer:
    budget: int
    used: int = 0
    lines: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in ORDER})
    omitted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDER, 0))
    shortest_rejected: int | None = None

    def offer(self, section: str, line: str) -> bool:
        # Once an entry did not fit, only shorter ones are tried (and tokenized): the pack is
        # nearly full, and counting hundreds of lines that cannot fit is most of the cost.
        full = self.budget - self.used < MIN_ENTRY_TOKENS
        if full or (self.shortest_rejected is not None and len(line) >= self.shortest_rejected):
            self.omitted[section] += 1
            return False
        cost = count_tokens(line + "\n")
        if not self.lines[section]:
            cost += count_tokens(f"## {TITLES[section]}\n\n") + 1
        if self.used + cost > self.budget:
            self.omitted[section] += 1
            self.shortest_rejected = len(line)
            return False
        self.lines[section].append(line)
        self.used += cost
        return True

    def offer_text(self, section: str, body: str) -> None:
        body = body.strip()
        if not body or self.offer(section, body):
            return
        self.omitted[section] -= 1
        room = self.budget - self.used - count_tokens(f"## {TITLES[section]}\n\n") - 4
        cut = _truncate(body, room)
        if cut and self.offer(section, cut + " …"):
            self.omitted[section] += 1  # shortened, so partly omitted
        elif not cut:
            self.omitted[section] += 1

    def render(self, project: str) -> str:
        parts = [f"# {project}\n"]
        for name in ORDER:
            if self.lines[name]:
                parts.append(f"## {TITLES[name]}\n\n" + "\n".join(self.lines[name]) + "\n")
        return "\n".join(parts)

    def drop_last(self) -> bool:
        """Take out the lowest-priority entry (when the whole counts more than its parts)."""
        for name in reversed(ORDER):
            if self.lines[name]:
                self.lines[name].pop()
                self.omitted[name] += 1
                return True
        return False


def _truncate(text: str, tokens: int) -> str:
    if tokens <= 0:
        return ""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[:middle]) <= tokens:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip()


def build_pack(
    rt: Runtime, mem: ProjectMemory, *, task: str | None, budget: int, now: datetime
) -> ContextPack:
    """Assemble and pack the context of one project (inside the caller's unit of work)."""
    project = mem.project.name
    parts: BriefParts = brief_parts(mem, now)
    packer = _Packer(budget=budget - count_tokens(f"# {project}\n\n"))
    kept: dict[str, list[MemoryItemRow]] = {"rules": [], "decisions": [], "open_tasks": []}

    def admit(
        section: str, rows: list[MemoryItemRow], keep: Callable[[MemoryItemRow], bool]
    ) -> None:
        for row in rows:
            if keep(row) and packer.offer(section, item_line(row)):
                kept[section].append(row)

    packer.offer_text("goal", parts.goal)
    admit("rules", parts.rules, lambda r: r.pinned)
    admit("rules", parts.rules, lambda r: not r.pinned)
    admit("decisions", parts.decisions, lambda r: True)
    admit("open_tasks", parts.open_tasks, lambda r: True)
    shown = {r.id for rows in (parts.rules, parts.decisions, parts.open_tasks) for r in rows}
    relevant: list[RecallHit] = []
    for hit in _relevant(rt, mem, task, shown, now):
        line = item_line_for_hit(hit)
        if packer.offer("relevant", line):
            relevant.append(hit)
    packer.offer_text("directory", parts.directory)
    packer.offer_text("notes", parts.notes)
    markdown = packer.render(project)
    while count_tokens(markdown) > budget and packer.drop_last():
        markdown = packer.render(project)
    # Entries dropped by the final trim leave the structured lists too.
    kept = {name: rows[: len(packer.lines[name])] for name, rows in kept.items()}
    relevant = relevant[: len(packer.lines["relevant"])]
    return ContextPack(
        project=project,
        budget=budget,
        tokens=count_tokens(markdown),
        markdown=markdown,
        goal=parts.goal if packer.lines["goal"] else "",
        rules=[describe_item(r, project) for r in kept["rules"]],
        decisions=[describe_item(r, project) for r in kept["decisions"]],
        open_tasks=[describe_item(r, project) for r in kept["open_tasks"]],
        relevant=relevant,
        directory=parts.directory if packer.lines["directory"] else "",
        notes=parts.notes if packer.lines["notes"] else "",
        omitted={name: count for name, count in packer.omitted.items() if count},
    )


def item_line_for_hit(hit: RecallHit) -> str:
    item = hit.item
    subject = f"**{item.key}**: " if item.key else ""
    content = " ".join(item.content.split())
    return f"- ({item.kind.value}) {subject}{content} [#{item.id}]"


def _relevant(
    rt: Runtime, mem: ProjectMemory, task: str | None, shown: set[int], now: datetime
) -> list[RecallHit]:
    if task and task.strip():
        query = RecallQuery(query=task, limit=RELEVANT_LIMIT)
        return search(rt, mem, query, now, exclude=shown)
    rows = mem.find(ItemFilter(current_at=now), limit=RELEVANT_LIMIT + len(shown))
    project = mem.project.name
    return [
        _recent_hit(describe_item(row, project))
        for row in rows
        if row.id not in shown and row.kind != MemoryKind.TASK.value
    ][:RELEVANT_LIMIT]


def _recent_hit(item: object) -> RecallHit:
    from corral.schemas.memory import MemoryItem, ScoreBreakdown

    assert isinstance(item, MemoryItem)
    breakdown = ScoreBreakdown(
        bm25=0.0,
        relevance=0.0,
        recency=1.0,
        recency_factor=1.0,
        pinned_factor=1.0,
        importance_factor=1.0,
        matched_terms=[],
    )
    return RecallHit(item=item, score=0.0, breakdown=breakdown)


def restore(
    rt: Runtime,
    actor: Principal,
    project: str,
    *,
    task: str | None = None,
    budget: int | None = None,
) -> ContextPack:
    """The context pack of a project, within ``budget`` tokens."""
    size = _budget(rt, budget)
    now = rt.clock.now()
    with rt.db.read() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_READ)
        pack = build_pack(rt, mem, task=task, budget=size, now=now)
        stale = activity_is_stale(uow, actor, mem.project_id, now)
    note_read(rt, actor, mem.project, stale)
    return pack


def open_project(
    rt: Runtime,
    actor: Principal,
    *,
    name: str | None = None,
    recent: bool = False,
    task: str | None = None,
    budget: int | None = None,
) -> ContextPack:
    """Restore a project named exactly or approximately, or the caller's most recent one."""
    if bool(name) == bool(recent):
        raise InvalidRequest(
            "give a project name or recent=true (one of them).", code="open_needs_one"
        )
    with rt.db.read() as uow:
        chosen = _most_recent(uow, actor) if recent else _fuzzy(uow, actor, str(name))
    return restore(rt, actor, chosen, task=task, budget=budget)


def _budget(rt: Runtime, budget: int | None) -> int:
    size = budget or rt.settings.memory_restore_budget
    if not 64 <= size <= 200_000:
        raise InvalidRequest("budget must be 64 to 200000 tokens.", code="invalid_budget")
    return size


def _reachable(uow: Session, actor: Principal) -> list[ProjectRow]:
    query = select(ProjectRow).order_by(ProjectRow.last_active_at.desc(), ProjectRow.id.desc())
    scope = actor.project_scope()
    if scope is not None:
        query = query.where(ProjectRow.id.in_(scope))
    return [p for p in uow.scalars(query) if actor.may(Permission.MEMORY_READ, p.id)]


def _most_recent(uow: Session, actor: Principal) -> str:
    """The reachable project where the caller was last active; when the caller has no memory
    activity yet, the reachable project with the latest activity of anyone."""
    reachable = {p.id: p for p in _reachable(uow, actor)}
    if not reachable:
        raise NotFound(
            f"{actor.label} reaches no project whose memory it may read.",
            code="no_recent_project",
        )
    mine = uow.execute(
        select(MemoryActivityRow.project_id)
        .where(
            MemoryActivityRow.principal_kind == actor.kind,
            MemoryActivityRow.principal_id == actor.id,
        )
        .order_by(MemoryActivityRow.last_active_at.desc(), MemoryActivityRow.project_id.desc())
    ).scalars()
    for project_id in mine:
        if project_id in reachable:
            return reachable[project_id].name
    return next(iter(reachable.values())).name


def _fuzzy(uow: Session, actor: Principal, name: str) -> str:
    """The one reachable project ``name`` designates: exact, else the only one it starts,
    contains, or closely resembles. Only names the caller may see are ever suggested."""
    names = [p.name for p in _reachable(uow, actor)]
    wanted = name.strip().lower()
    if wanted in names:
        return wanted
    for matches in (
        [n for n in names if n.startswith(wanted)],
        [n for n in names if wanted in n],
        difflib.get_close_matches(wanted, names, n=5, cutoff=0.75),
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidRequest(
                f"{name!r} matches several projects: {', '.join(sorted(matches))}; "
                "give more of the name.",
                code="ambiguous_project",
                details={"candidates": sorted(matches)},
            )
    # No match: the same refusal resolve_project gives (404 only for those who see everything).
    resolve_project(uow, actor, name, Permission.MEMORY_READ)
    return name
