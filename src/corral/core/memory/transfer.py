"""Export and import of a project's memory.

JSONL is the lossless form: one line for the brief's human sections, then one line per item
(oldest first) with every field and its full version history. Importing it into an empty project
gives back the same items, links and history (under new ids). Markdown is for people.

Import checks every line before it stores anything: one bad line and nothing is stored, and the
answer lists each bad line with its problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from corral.core.access import Principal
from corral.core.audit import record_audit
from corral.core.memory import text
from corral.core.memory.brief import brief_parts, item_line, render_markdown
from corral.core.memory.remember import check_content_size, index_text, own_terms
from corral.core.memory.scope import enter, record_activity
from corral.core.memory.store import ProjectMemory, snapshot
from corral.core.runtime import Runtime
from corral.db.schema import MemoryItemRow
from corral.errors import CorralError, InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.memory import (
    ExportedBrief,
    ExportedItem,
    ExportedVersion,
    ImportProblem,
    ImportResult,
    MemoryKind,
)

MAX_IMPORT_LINES = 200_000
_LINE: TypeAdapter[ExportedItem | ExportedBrief] = TypeAdapter(ExportedItem | ExportedBrief)


def export_jsonl(rt: Runtime, actor: Principal, project: str) -> str:
    """The project's memory as JSONL (audited as ``memory.export``)."""
    return "".join(_export(rt, actor, project, "jsonl"))


def export_markdown(rt: Runtime, actor: Principal, project: str) -> str:
    """The project's memory as a Markdown document for people (audited as ``memory.export``)."""
    return "".join(_export(rt, actor, project, "markdown"))


def _export(rt: Runtime, actor: Principal, project: str, form: str) -> Iterator[str]:
    now = rt.clock.now()
    out: list[str] = []
    with rt.db.write() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_READ)
        count = 0
        if form == "jsonl":
            stored = mem.brief()
            if stored is not None:
                brief = ExportedBrief(
                    goal=stored.goal, directory=stored.directory, notes=stored.notes
                )
                out.append(brief.model_dump_json() + "\n")
            for row in mem.all_rows():
                out.append(_exported(mem, row).model_dump_json() + "\n")
                count += 1
        else:
            out.append(render_markdown(project, brief_parts(mem, now)))
            count = _markdown_items(mem, now, out)
        record_audit(
            uow,
            actor=actor,
            action="memory.export",
            target_kind="project",
            target_id=project,
            project=mem.project,
            details={"format": form, "items": count},
            now=now,
        )
        record_activity(uow, actor, mem.project, now)
    return iter(out)


def _exported(mem: ProjectMemory, row: MemoryItemRow) -> ExportedItem:
    history = [
        ExportedVersion(
            version=v.version,
            changed_at=v.changed_at,
            actor=v.actor,
            change=v.change,
            snapshot=dict(v.snapshot),
        )
        for v in mem.versions(row.id)
    ]
    return ExportedItem.model_validate(
        {
            "id": row.id,
            "kind": row.kind,
            "key": row.key,
            "content": row.content,
            "tags": list(row.tags),
            "source": row.source,
            "session": row.session,
            "author": row.author,
            "pinned": row.pinned,
            "importance": row.importance,
            "status": row.status,
            "valid_from": row.valid_from,
            "valid_to": row.valid_to,
            "superseded_by": row.superseded_by,
            "version": row.version,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "history": history,
        }
    )


def _markdown_items(mem: ProjectMemory, now: datetime, out: list[str]) -> int:
    current: dict[str, list[str]] = {}
    past: list[str] = []
    count = 0
    for row in mem.all_rows():
        count += 1
        if row.valid_from <= now and (row.valid_to is None or row.valid_to > now):
            tags = f" — tags: {', '.join(row.tags)}" if row.tags else ""
            current.setdefault(row.kind, []).append(item_line(row) + tags)
        else:
            until = row.valid_to.date().isoformat() if row.valid_to else "later"
            by = f", replaced by #{row.superseded_by}" if row.superseded_by else ""
            past.append(f"{item_line(row)} (valid until {until}{by})")
    out.append("\n## All current items\n")
    for kind in MemoryKind:
        if current.get(kind.value):
            out.append(
                f"\n### {kind.value.capitalize()}s\n\n" + "\n".join(current[kind.value]) + "\n"
            )
    if past:
        out.append("\n## History (superseded or expired)\n\n" + "\n".join(past) + "\n")
    return count


def parse_import(
    rt: Runtime, document: str
) -> tuple[list[ExportedItem], ExportedBrief | None, list[ImportProblem]]:
    """Every line checked; problems are collected, not raised, so all of them are reported."""
    items: list[ExportedItem] = []
    brief: ExportedBrief | None = None
    problems: list[ImportProblem] = []
    lines = document.splitlines()
    if len(lines) > MAX_IMPORT_LINES:
        problems.append(
            ImportProblem(line=MAX_IMPORT_LINES + 1, problem=f"more than {MAX_IMPORT_LINES} lines")
        )
        return items, brief, problems
    seen_ids: set[int] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value: Any = json.loads(line)
        except ValueError as exc:
            problems.append(ImportProblem(line=number, problem=f"not valid JSON: {exc}"))
            continue
        if isinstance(value, dict):
            value.setdefault("type", "item")
        try:
            parsed = _LINE.validate_python(value)
        except ValidationError as exc:
            summary = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:]) or 'line'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            problems.append(ImportProblem(line=number, problem=summary))
            continue
        if isinstance(parsed, ExportedBrief):
            if brief is not None:
                problems.append(ImportProblem(line=number, problem="a second brief line"))
            brief = parsed
            continue
        try:
            check_content_size(rt, parsed.content)
        except CorralError as exc:
            problems.append(ImportProblem(line=number, problem=exc.message))
            continue
        if parsed.id in seen_ids:
            problems.append(ImportProblem(line=number, problem=f"id {parsed.id} appears twice"))
            continue
        if parsed.status is not None and parsed.kind is not MemoryKind.TASK:
            problems.append(ImportProblem(line=number, problem="only tasks have a status"))
            continue
        seen_ids.add(parsed.id)
        items.append(parsed)
    for number, item in _numbered(lines, items):
        if item.superseded_by is not None and item.superseded_by not in seen_ids:
            problems.append(
                ImportProblem(
                    line=number,
                    problem=f"superseded_by {item.superseded_by} is not an id in this file",
                )
            )
    return items, brief, problems


def _numbered(lines: list[str], items: list[ExportedItem]) -> Iterator[tuple[int, ExportedItem]]:
    by_id = {item.id: item for item in items}
    for number, line in enumerate(lines, start=1):
        try:
            value = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if (
            isinstance(value, dict)
            and value.get("id") in by_id
            and value.get("type", "item") == "item"
        ):
            yield number, by_id[value["id"]]


def import_jsonl(rt: Runtime, actor: Principal, project: str, document: str) -> ImportResult:
    """Store an export in a project: all lines, or nothing (422 listing every bad line)."""
    with rt.db.read() as uow:
        enter(uow, actor, project, Permission.MEMORY_WRITE)  # refuse outsiders before parsing
    items, brief, problems = parse_import(rt, document)
    if problems:
        shown = "; ".join(f"line {p.line}: {p.problem}" for p in problems[:3])
        raise InvalidRequest(
            f"the import has {len(problems)} bad line(s); nothing was stored. {shown}",
            code="invalid_import",
            details={"problems": [p.model_dump() for p in problems]},
        )
    if not items and brief is None:
        raise InvalidRequest("the import holds no lines.", code="empty_import")
    now = rt.clock.now()
    with rt.db.write() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_WRITE)
        imported, duplicates = _store(mem, items, actor, now)
        if brief is not None:
            mem.save_brief(
                {"goal": brief.goal, "directory": brief.directory, "notes": brief.notes},
                actor.label,
                now,
            )
        record_audit(
            uow,
            actor=actor,
            action="memory.import",
            target_kind="project",
            target_id=project,
            project=mem.project,
            details={"items": imported, "duplicates": duplicates},
            now=now,
        )
        record_activity(uow, actor, mem.project, now)
    return ImportResult(imported=imported, duplicates=duplicates)


def _store(
    mem: ProjectMemory, items: list[ExportedItem], actor: Principal, now: datetime
) -> tuple[int, int]:
    hashes = [text.content_hash(item.content) for item in items]
    active = mem.active_duplicates(hashes, now)
    new_id: dict[int, int] = {}
    rows: list[dict[str, Any]] = []
    sources: list[ExportedItem] = []
    session_context: dict[str, str] = {}
    duplicates = 0
    for item, digest in zip(items, hashes, strict=True):
        indexed = index_text(mem, item.content, item.key, item.tags)
        context = session_context.get(item.session, "") if item.session else ""
        if item.session:
            session_context[item.session] = own_terms(mem, indexed.search_text)
        is_current = item.valid_from <= now and (item.valid_to is None or item.valid_to > now)
        existing = active.get((item.kind.value, item.key, digest))
        if is_current and existing is not None:
            new_id[item.id] = existing.id
            duplicates += 1
            continue
        sources.append(item)
        rows.append(
            {
                "kind": item.kind.value,
                "key": item.key,
                "content": item.content,
                "content_hash": digest,
                "tags": list(dict.fromkeys(item.tags)),
                "source": item.source.value,
                "session": item.session,
                "author": item.author,
                "pinned": item.pinned,
                "importance": item.importance,
                "status": item.status.value if item.status else None,
                "valid_from": item.valid_from,
                "valid_to": item.valid_to,
                "superseded_by": None,
                "version": item.version,
                "created_at": item.created_at,
                "updated_at": item.updated_at,
                "search_text": indexed.search_text,
                "context_text": context,
                "term_count": indexed.term_count,
            }
        )
    ids = mem.insert(rows, actor.label, now, with_versions=False)
    new_id.update({item.id: i for item, i in zip(sources, ids, strict=True)})
    stored = mem.by_ids(ids)
    versions: list[dict[str, Any]] = []
    for item, item_id in zip(sources, ids, strict=True):
        row = stored[item_id]
        if item.superseded_by is not None:
            row.superseded_by = new_id[item.superseded_by]
        history = item.history or [
            ExportedVersion(
                version=item.version,
                changed_at=item.updated_at,
                actor=item.author,
                change="created",
                snapshot=snapshot(row),
            )
        ]
        for version in history:
            recorded = dict(version.snapshot)
            old_link = recorded.get("superseded_by")
            if isinstance(old_link, int):
                recorded["superseded_by"] = new_id.get(old_link)
            versions.append(
                {
                    "item_id": item_id,
                    "version": version.version,
                    "changed_at": version.changed_at,
                    "actor": version.actor,
                    "change": version.change,
                    "snapshot": recorded,
                }
            )
    mem.insert_versions(versions)
    return len(ids), duplicates
