"""The write path of memory: remember one item or a batch. No model is called: a write is a
few indexed lookups and one insert.

Rules, applied in order to each item:

1. **Duplicate** — a current item with the same kind, key and normalised content (case,
   whitespace and punctuation ignored) exists: nothing is stored and that item is returned.
2. **Conflict** — the item is a decision or constraint and a current decision or constraint with
   the same key says something else: 409 naming the current item, unless ``supersede`` is set.
3. **Supersede** — any other current item with the same key is closed (``valid_to`` now,
   ``superseded_by`` the new item) and stays in history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.memory import text
from corral.core.memory.describe import describe_item, describe_values
from corral.core.memory.scope import enter, record_activity
from corral.core.memory.store import ProjectMemory, is_current
from corral.core.runtime import Runtime
from corral.db.schema import MemoryItemRow
from corral.errors import Conflict, InvalidRequest, PayloadTooLarge
from corral.schemas.access import Permission
from corral.schemas.memory import (
    MemoryItem,
    MemoryItemCreate,
    MemoryKind,
    MemorySource,
    RememberManyResult,
    RememberRequest,
    RememberResult,
    TaskStatus,
)

GUARDED_KINDS = frozenset({MemoryKind.DECISION.value, MemoryKind.CONSTRAINT.value})
"""Kinds whose contradictions are refused instead of silently superseded."""


def check_content_size(rt: Runtime, content: str, *, where: str = "content") -> None:
    """Refuse content over ``CORRAL_MEMORY_MAX_ITEM_BYTES`` with 413 and the limit."""
    limit = rt.settings.memory_max_item_bytes
    size = len(content.encode())
    if size > limit:
        raise PayloadTooLarge(
            f"{where} is {size} bytes; a memory item holds at most {limit} bytes "
            "(CORRAL_MEMORY_MAX_ITEM_BYTES). Split it into several items.",
            code="memory_item_too_large",
            details={"limit_bytes": limit, "size_bytes": size},
        )


def check_item(rt: Runtime, item: MemoryItemCreate, *, where: str = "content") -> None:
    """Validation shared by remember and import (beyond what the body schema checks)."""
    check_content_size(rt, item.content, where=where)
    if item.status is not None and item.kind is not MemoryKind.TASK:
        raise InvalidRequest(
            f"only tasks have a status; this item is a {item.kind.value}.",
            code="status_needs_task",
        )
    if item.valid_from and item.valid_to and item.valid_to <= item.valid_from:
        raise InvalidRequest("valid_to must be after valid_from.", code="invalid_validity")


@dataclass(frozen=True)
class IndexedText:
    search_text: str
    term_count: int


def index_text(
    mem: ProjectMemory, content: str, key: str | None, tags: Sequence[str]
) -> IndexedText:
    """The index tokens of an item: its content's terms, plus its key and tags once more (they
    name the subject, so they weigh more)."""
    words = text.terms(content)
    if key:
        words += text.terms(key)
    if tags:
        words += text.terms(" ".join(tags))
    return IndexedText(" ".join(mem.token(w) for w in words), len(words))


def own_terms(mem: ProjectMemory, search_text: str) -> str:
    """An item's terms without the project prefix (what the next item of a session keeps as
    context)."""
    prefix = len(mem.token(""))
    return " ".join(token[prefix:] for token in search_text.split())


@dataclass
class _Plan:
    """Decisions taken for a batch before anything is written."""

    outcomes: list[tuple[str, int]] = field(default_factory=list)
    """Per input item: ("new", index into rows) or ("duplicate", existing id) or
    ("batch_duplicate", index into rows)."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    superseded_existing: dict[int, int] = field(default_factory=dict)
    """existing item id -> index into rows of the item replacing it."""
    superseded_new: dict[int, int] = field(default_factory=dict)
    """row index -> row index of a later item of the batch replacing it."""


def remember(rt: Runtime, actor: Principal, project: str, body: RememberRequest) -> RememberResult:
    """Remember one item (see the module docstring for duplicates, conflicts, supersession)."""
    item = MemoryItemCreate(**body.model_dump(exclude={"supersede"}))
    return remember_many(rt, actor, project, [item], supersede=body.supersede).results[0]


def remember_many(
    rt: Runtime,
    actor: Principal,
    project: str,
    items: Sequence[MemoryItemCreate],
    *,
    supersede: bool = False,
) -> RememberManyResult:
    """Remember a batch in one transaction: all of it is stored, or (on a conflict) none."""
    for index, item in enumerate(items):
        check_item(rt, item, where=f"item {index} content" if len(items) > 1 else "content")
    now = rt.clock.now()
    with rt.db.write() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_WRITE)
        plan = _plan(mem, items, supersede=supersede, author=actor.label, now=now)
        return _store(uow, mem, actor, project, plan, now)


def supersede_item(
    rt: Runtime, actor: Principal, project: str, item_id: int, content: str
) -> RememberResult:
    """Replace a current item by a new one with ``content``: the new item keeps the old one's
    kind, key, tags, source, session, pin, importance and status, and the old one is closed
    (``valid_to`` now, ``superseded_by`` the new item) as when a key is remembered again."""
    check_content_size(rt, content)
    now = rt.clock.now()
    with rt.db.write() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_WRITE)
        old = mem.get(item_id)
        if not is_current(old.valid_from, old.valid_to, now):
            raise Conflict(
                f"item {item_id} is no longer current"
                + (f" (superseded by item {old.superseded_by})" if old.superseded_by else "")
                + "; supersede the current item instead.",
                code="memory_item_not_current",
                details={"item_id": item_id, "superseded_by": old.superseded_by},
            )
        item = MemoryItemCreate(
            kind=MemoryKind(old.kind),
            key=old.key,
            content=content,
            tags=list(old.tags),
            source=MemorySource(old.source),
            session=old.session,
            pinned=old.pinned,
            importance=old.importance,
            status=TaskStatus(old.status) if old.status else None,
        )
        plan = _plan(mem, [item], supersede=True, author=actor.label, now=now)
        if plan.outcomes[0][0] != "new":
            raise InvalidRequest(
                f"the new content is the same as current item {plan.outcomes[0][1]}'s: "
                "nothing to supersede.",
                code="supersede_unchanged",
                details={"item_id": plan.outcomes[0][1]},
            )
        plan.superseded_existing.setdefault(old.id, 0)  # an item without a key is named here
        return _store(uow, mem, actor, project, plan, now).results[0]


def _store(
    uow: Session, mem: ProjectMemory, actor: Principal, project: str, plan: _Plan, now: datetime
) -> RememberManyResult:
    """Write a plan: insert the new rows, close the items they supersede, answer per item."""
    ids = mem.insert(plan.rows, actor.label, now)
    to_close = [*plan.superseded_existing, *(ids[i] for i in plan.superseded_new)]
    existing = mem.by_ids(sorted(to_close))
    superseded_by_item: dict[int, list[int]] = {}
    for old_id, new_index in plan.superseded_existing.items():
        _close(mem, existing[old_id], ids[new_index], actor.label, now)
        superseded_by_item.setdefault(new_index, []).append(old_id)
    for old_index, new_index in plan.superseded_new.items():
        _close(mem, existing[ids[old_index]], ids[new_index], actor.label, now)
        superseded_by_item.setdefault(new_index, []).append(ids[old_index])
    record_activity(uow, actor, mem.project, now)
    uow.flush()
    # New rows are described from what was inserted; only rows changed since (closed by a
    # later item of the batch) or found as duplicates are read back.
    loaded = {
        **existing,
        **mem.by_ids(sorted({r for k, r in plan.outcomes if k == "duplicate"})),
    }

    def shown(item_id: int, values: dict[str, Any] | None) -> MemoryItem:
        if item_id in loaded or values is None:
            return describe_item(loaded[item_id], project)
        return describe_values(item_id, values, project)

    results = []
    for kind, ref in plan.outcomes:
        if kind == "new":
            replaced = sorted(superseded_by_item.get(ref, []))
            results.append(
                RememberResult(
                    outcome="superseded" if replaced else "created",
                    item=shown(ids[ref], plan.rows[ref]),
                    superseded=replaced,
                )
            )
        elif kind == "duplicate":
            results.append(RememberResult(outcome="duplicate", item=shown(ref, None)))
        else:
            earlier = shown(ids[ref], plan.rows[ref])
            results.append(RememberResult(outcome="duplicate", item=earlier))
    created = sum(1 for kind, _ in plan.outcomes if kind == "new")
    return RememberManyResult(
        results=results, created=created, duplicates=len(plan.outcomes) - created
    )


def _close(mem: ProjectMemory, row: MemoryItemRow, by: int, actor: str, now: datetime) -> None:
    row.valid_to = now
    row.superseded_by = by
    mem.record_change(row, actor, "superseded", now)


def _plan(
    mem: ProjectMemory,
    items: Sequence[MemoryItemCreate],
    *,
    supersede: bool,
    author: str,
    now: datetime,
) -> _Plan:
    plan = _Plan()
    hashes = [text.content_hash(item.content) for item in items]
    duplicates = mem.active_duplicates(hashes, now)
    keyed_existing = mem.active_by_key([i.key for i in items if i.key], now)
    batch_seen: dict[tuple[str, str | None, str], int] = {}
    # Current holders of each key: ("existing", id, kind, hash) or ("new", row index, kind, hash).
    holders: dict[str, list[tuple[str, int, str, str]]] = {
        key: [("existing", r.id, r.kind, r.content_hash) for r in rows]
        for key, rows in keyed_existing.items()
    }
    sessions = [item.session for item in items if item.session]
    session_context = {
        session: own_terms(mem, tokens)
        for session, tokens in (mem.last_in_sessions(sessions) if sessions else {}).items()
    }
    for index, (item, digest) in enumerate(zip(items, hashes, strict=True)):
        identity = (item.kind.value, item.key, digest)
        own = index_text(mem, item.content, item.key, item.tags)
        context = _session_context(mem, item.session, session_context)
        if item.session:
            session_context[item.session] = own_terms(mem, own.search_text)
        if identity in duplicates:
            plan.outcomes.append(("duplicate", duplicates[identity].id))
            continue
        if identity in batch_seen:
            plan.outcomes.append(("batch_duplicate", batch_seen[identity]))
            continue
        row_index = len(plan.rows)
        if item.key:
            current = holders.get(item.key, [])
            if item.kind.value in GUARDED_KINDS and not supersede:
                for origin, ref, kind, other_hash in current:
                    if kind in GUARDED_KINDS and other_hash != digest:
                        raise _conflict(mem, item, index, origin, ref, len(items))
            for origin, ref, _kind, _hash in current:
                if origin == "existing":
                    plan.superseded_existing[ref] = row_index
                else:
                    plan.superseded_new[ref] = row_index
            holders[item.key] = [("new", row_index, item.kind.value, digest)]
        batch_seen[identity] = row_index
        status = item.status.value if item.status else None
        if item.kind is MemoryKind.TASK and status is None:
            status = TaskStatus.OPEN.value
        plan.rows.append(
            {
                "kind": item.kind.value,
                "key": item.key,
                "content": item.content,
                "content_hash": digest,
                "tags": list(dict.fromkeys(item.tags)),
                "source": item.source.value,
                "session": item.session,
                "author": author,
                "pinned": item.pinned,
                "importance": item.importance,
                "status": status,
                "valid_from": item.valid_from or now,
                "valid_to": item.valid_to,
                "superseded_by": None,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "search_text": own.search_text,
                "context_text": context,
                "term_count": own.term_count,
            }
        )
        plan.outcomes.append(("new", row_index))
    return plan


def _session_context(mem: ProjectMemory, session: str | None, seen: dict[str, str]) -> str:
    if not session:
        return ""
    return seen.get(session, "")


def _conflict(
    mem: ProjectMemory, item: MemoryItemCreate, index: int, origin: str, ref: int, total: int
) -> Conflict:
    where = f"item {index} of the batch" if total > 1 else "the new item"
    if origin == "existing":
        active = mem.get(ref)
        return Conflict(
            f"{where} contradicts active {active.kind} {active.id} with key {item.key!r}: "
            f"{active.content!r}. Pass supersede=true to replace it, or change the key.",
            code="memory_conflict",
            details={
                "key": item.key,
                "active_item": active.id,
                "active_kind": active.kind,
                "active_content": active.content,
                "index": index,
            },
        )
    return Conflict(
        f"{where} contradicts an earlier item of the same batch with key {item.key!r}. "
        "Pass supersede=true to keep the later one.",
        code="memory_conflict",
        details={"key": item.key, "active_item": None, "index": index},
    )
