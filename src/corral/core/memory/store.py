"""The one query layer of memory: every read and write of memory rows goes through a
:class:`ProjectMemory`, which cannot be built without a project and adds the project to every
statement. Services never query memory tables themselves, so no code path can forget the filter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from corral.core.memory.ranking import Candidate, CorpusStats
from corral.db import memory_search
from corral.db.schema import (
    MemoryBriefRow,
    MemoryItemRow,
    MemoryStatsRow,
    MemoryTermRow,
    MemoryVersionRow,
    ProjectRow,
)
from corral.errors import NotFound

_CHUNK = 900
ITEM = MemoryItemRow


def snapshot(row: MemoryItemRow) -> dict[str, Any]:
    """The user-visible state of an item, as stored in its version history."""
    return {
        "kind": row.kind,
        "key": row.key,
        "content": row.content,
        "tags": list(row.tags),
        "source": row.source,
        "session": row.session,
        "pinned": row.pinned,
        "importance": row.importance,
        "status": row.status,
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
        "superseded_by": row.superseded_by,
    }


def current_at(now: datetime) -> ColumnElement[bool]:
    """Items valid at ``now``."""
    return and_(ITEM.valid_from <= now, or_(ITEM.valid_to.is_(None), ITEM.valid_to > now))


def is_current(valid_from: datetime, valid_to: datetime | None, now: datetime) -> bool:
    """Whether an item is valid at ``now`` (the rule of :func:`current_at`, for a loaded item)."""
    return valid_from <= now and (valid_to is None or valid_to > now)


def validity_bounds(validity: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """``(current_at, ended_at)`` of an :class:`ItemFilter` for a validity: ``current``,
    ``superseded`` (no longer valid at ``now``) or ``all``."""
    if validity == "current":
        return now, None
    if validity == "superseded":
        return None, now
    return None, None


@dataclass(frozen=True)
class ItemFilter:
    """Filters shared by list and recall. ``current_at`` None means every version;
    ``ended_at`` keeps only items no longer valid then (superseded or expired)."""

    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    key: str | None = None
    status: tuple[str, ...] = ()
    current_at: datetime | None = None
    ended_at: datetime | None = None
    pinned: bool | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self, dialect: str) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.kinds:
            out.append(ITEM.kind.in_(self.kinds))
        if self.key is not None:
            out.append(ITEM.key == self.key)
        if self.status:
            out.append(ITEM.status.in_(self.status))
        if self.current_at is not None:
            out.append(current_at(self.current_at))
        if self.ended_at is not None:
            out.append(ITEM.valid_to <= self.ended_at)
        if self.pinned is not None:
            out.append(ITEM.pinned == self.pinned)
        if self.since is not None:
            out.append(ITEM.valid_from >= self.since)
        if self.until is not None:
            out.append(ITEM.valid_from < self.until)
        for tag in self.tags:
            out.append(memory_search.has_tag(dialect, tag))
        return out


class ProjectMemory:
    """Memory rows of one project, inside one unit of work."""

    def __init__(self, uow: Session, project: ProjectRow) -> None:
        self.uow = uow
        self.project = project
        self.project_id = project.id
        self.dialect = uow.get_bind().dialect.name

    # -- reading items ---------------------------------------------------------------------

    def _select(self) -> Any:
        return select(ITEM).where(ITEM.project_id == self.project_id)

    def get(self, item_id: int) -> MemoryItemRow:
        row = self.uow.scalars(self._select().where(ITEM.id == item_id)).one_or_none()
        if row is None:
            raise NotFound(
                f"memory item {item_id} does not exist in project {self.project.name!r}.",
                code="memory_item_not_found",
                details={"project": self.project.name, "item_id": item_id},
            )
        return row  # type: ignore[no-any-return]

    def by_ids(self, ids: Sequence[int]) -> dict[int, MemoryItemRow]:
        found: dict[int, MemoryItemRow] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for row in self.uow.scalars(self._select().where(ITEM.id.in_(chunk))):
                found[row.id] = row
        return found

    def find(
        self,
        where: ItemFilter,
        *,
        limit: int,
        before_id: int | None = None,
        order: str = "newest",
    ) -> list[MemoryItemRow]:
        """Items matching ``where``, as read-only rows (plain result rows with the attributes of
        :class:`MemoryItemRow`: listing many items skips the ORM's bookkeeping)."""
        query = select(ITEM.__table__).where(
            ITEM.project_id == self.project_id, *where.clauses(self.dialect)
        )
        if before_id is not None:
            query = query.where(ITEM.id < before_id if order == "newest" else ITEM.id > before_id)
        query = query.order_by(ITEM.id.desc() if order == "newest" else ITEM.id)
        return cast(list[MemoryItemRow], list(self.uow.execute(query.limit(limit))))

    def all_rows(self, batch: int = 1000) -> Iterable[MemoryItemRow]:
        """Every item of the project, oldest first, a batch at a time (for export)."""
        after = 0
        while True:
            rows = list(
                self.uow.scalars(
                    self._select().where(ITEM.id > after).order_by(ITEM.id).limit(batch)
                )
            )
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].id

    def active_duplicates(
        self, hashes: Sequence[str], now: datetime
    ) -> dict[tuple[str, str | None, str], MemoryItemRow]:
        """Current items whose normalised content hash is among ``hashes``, by
        (kind, key, hash)."""
        found: dict[tuple[str, str | None, str], MemoryItemRow] = {}
        unique = sorted(set(hashes))
        for start in range(0, len(unique), _CHUNK):
            query = self._select().where(
                ITEM.content_hash.in_(unique[start : start + _CHUNK]), current_at(now)
            )
            for row in self.uow.scalars(query):
                found.setdefault((row.kind, row.key, row.content_hash), row)
        return found

    def active_by_key(self, keys: Sequence[str], now: datetime) -> dict[str, list[MemoryItemRow]]:
        found: dict[str, list[MemoryItemRow]] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), _CHUNK):
            query = (
                self._select()
                .where(ITEM.key.in_(unique[start : start + _CHUNK]), current_at(now))
                .order_by(ITEM.id)
            )
            for row in self.uow.scalars(query):
                found.setdefault(row.key or "", []).append(row)
        return found

    def last_in_sessions(self, sessions: Sequence[str]) -> dict[str, str]:
        """The index tokens of the newest item of each session (sessions without items are
        left out)."""
        unique = sorted(set(sessions))
        newest: list[int] = []
        for start in range(0, len(unique), _CHUNK):
            query = (
                select(func.max(ITEM.id))
                .where(
                    ITEM.project_id == self.project_id,
                    ITEM.session.in_(unique[start : start + _CHUNK]),
                )
                .group_by(ITEM.session)
            )
            newest += [int(v) for v in self.uow.scalars(query)]
        found: dict[str, str] = {}
        for start in range(0, len(newest), _CHUNK):
            latest = select(ITEM.session, ITEM.search_text).where(
                ITEM.project_id == self.project_id, ITEM.id.in_(newest[start : start + _CHUNK])
            )
            for row in self.uow.execute(latest):
                found[str(row[0])] = str(row[1])
        return found

    def versions(self, item_id: int) -> list[MemoryVersionRow]:
        query = (
            select(MemoryVersionRow)
            .where(
                MemoryVersionRow.project_id == self.project_id,
                MemoryVersionRow.item_id == item_id,
            )
            .order_by(MemoryVersionRow.version)
        )
        return list(self.uow.scalars(query))

    def versions_of(self, item_ids: Sequence[int]) -> dict[int, list[MemoryVersionRow]]:
        found: dict[int, list[MemoryVersionRow]] = {}
        for start in range(0, len(item_ids), _CHUNK):
            query = (
                select(MemoryVersionRow)
                .where(
                    MemoryVersionRow.project_id == self.project_id,
                    MemoryVersionRow.item_id.in_(item_ids[start : start + _CHUNK]),
                )
                .order_by(MemoryVersionRow.item_id, MemoryVersionRow.version)
            )
            for row in self.uow.scalars(query):
                found.setdefault(row.item_id, []).append(row)
        return found

    # -- search ------------------------------------------------------------------------------

    def token(self, term: str) -> str:
        return memory_search.project_token(self.project_id, term)

    def candidates(self, terms: Sequence[str], where: ItemFilter, per_term: int) -> list[Candidate]:
        tokens = [self.token(term) for term in terms]
        ids = memory_search.candidate_ids(
            self.uow, self.project_id, tokens, where.clauses(self.dialect), per_term
        )
        return self.candidates_by_id(ids)

    def candidates_by_id(self, ids: Sequence[int]) -> list[Candidate]:
        out: list[Candidate] = []
        columns = (
            ITEM.id,
            ITEM.search_text,
            ITEM.context_text,
            ITEM.term_count,
            ITEM.pinned,
            ITEM.importance,
            ITEM.valid_from,
        )
        for start in range(0, len(ids), _CHUNK):
            query = select(*columns).where(
                ITEM.project_id == self.project_id, ITEM.id.in_(ids[start : start + _CHUNK])
            )
            for row in self.uow.execute(query):
                out.append(Candidate(*row))
        return out

    def stats(self, terms: Sequence[str]) -> CorpusStats:
        totals = self.uow.get(MemoryStatsRow, self.project_id)
        doc_count = totals.doc_count if totals else 0
        avg = (totals.total_terms / totals.doc_count) if totals and totals.doc_count else 0.0
        df: dict[str, int] = {}
        if terms:
            query = select(MemoryTermRow.term, MemoryTermRow.df).where(
                MemoryTermRow.project_id == self.project_id, MemoryTermRow.term.in_(terms)
            )
            df = {str(term): int(count) for term, count in self.uow.execute(query)}
        return CorpusStats(doc_count=doc_count, avg_length=avg, df=df)

    # -- writing -----------------------------------------------------------------------------

    def insert(
        self,
        rows: Sequence[dict[str, Any]],
        actor: str,
        now: datetime,
        *,
        with_versions: bool = True,
    ) -> list[int]:
        """Insert items (with a first version unless the caller brings the history) and count
        them into the search statistics."""
        if not rows:
            return []
        values = [{**row, "project_id": self.project_id} for row in rows]
        ids = [
            int(v)
            for v in self.uow.scalars(
                insert(ITEM).returning(ITEM.id, sort_by_parameter_order=True), values
            )
        ]
        versions = []
        for item_id, row in zip(ids, values, strict=True) if with_versions else ():
            versions.append(
                {
                    "item_id": item_id,
                    "project_id": self.project_id,
                    "version": row.get("version", 1),
                    "changed_at": now,
                    "actor": actor,
                    "change": "created",
                    "snapshot": _snapshot_of(row),
                }
            )
        if versions:
            self.uow.execute(insert(MemoryVersionRow), versions)
        self._count(values, +1)
        return ids

    def insert_versions(self, versions: Sequence[dict[str, Any]]) -> None:
        if versions:
            rows = [{**v, "project_id": self.project_id} for v in versions]
            self.uow.execute(insert(MemoryVersionRow), rows)

    def record_change(self, row: MemoryItemRow, actor: str, change: str, now: datetime) -> None:
        """Bump an item's version after a change and keep the snapshot in its history."""
        row.version += 1
        row.updated_at = now
        self.uow.add(
            MemoryVersionRow(
                item_id=row.id,
                project_id=self.project_id,
                version=row.version,
                changed_at=now,
                actor=actor,
                change=change,
                snapshot=snapshot(row),
            )
        )

    def reindex(self, row: MemoryItemRow, search_text: str, term_count: int) -> None:
        """Replace an item's indexed terms (after its content changed)."""
        self._count([{"search_text": row.search_text, "term_count": row.term_count}], -1)
        row.search_text, row.term_count = search_text, term_count
        self._count([{"search_text": search_text, "term_count": term_count}], +1)

    def delete(self, row: MemoryItemRow) -> None:
        """Remove an item, its history and its index entries; links to it are cleared."""
        self._count([{"search_text": row.search_text, "term_count": row.term_count}], -1)
        self.uow.execute(
            update(ITEM)
            .where(ITEM.project_id == self.project_id, ITEM.superseded_by == row.id)
            .values(superseded_by=None)
        )
        self.uow.execute(delete(ITEM).where(ITEM.project_id == self.project_id, ITEM.id == row.id))
        self.uow.expunge(row)

    def _count(self, rows: Iterable[dict[str, Any]], sign: int) -> None:
        prefix = self.token("")
        df: Counter[str] = Counter()
        docs = terms = 0
        for row in rows:
            docs += 1
            terms += int(row["term_count"])
            for token in set(str(row["search_text"]).split()):
                df[token[len(prefix) :]] += sign
        memory_search.adjust_terms(self.uow, self.project_id, df)
        memory_search.adjust_stats(self.uow, self.project_id, sign * docs, sign * terms)

    # -- brief -------------------------------------------------------------------------------

    def brief(self) -> MemoryBriefRow | None:
        return self.uow.get(MemoryBriefRow, self.project_id)

    def save_brief(self, values: dict[str, str], actor: str, now: datetime) -> MemoryBriefRow:
        row = self.brief()
        if row is None:
            row = MemoryBriefRow(
                project_id=self.project_id, goal="", directory="", notes="", updated_by=actor
            )
            self.uow.add(row)
        for field, value in values.items():
            setattr(row, field, value)
        row.updated_at, row.updated_by = now, actor
        self.uow.flush()
        return row


def _snapshot_of(values: dict[str, Any]) -> dict[str, Any]:
    def iso(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return {
        "kind": values["kind"],
        "key": values.get("key"),
        "content": values["content"],
        "tags": list(values.get("tags") or []),
        "source": values["source"],
        "session": values.get("session"),
        "pinned": values["pinned"],
        "importance": values["importance"],
        "status": values.get("status"),
        "valid_from": iso(values["valid_from"]),
        "valid_to": iso(values.get("valid_to")),
        "superseded_by": values.get("superseded_by"),
    }


def item_counts(uow: Session, project_ids: Sequence[int]) -> dict[int, int]:
    """Items stored per project, from the search statistics (no scan of the items), for
    projects the caller has already been allowed to read."""
    if not project_ids:
        return {}
    query = select(MemoryStatsRow.project_id, MemoryStatsRow.doc_count).where(
        MemoryStatsRow.project_id.in_(list(project_ids))
    )
    return {int(pid): int(count) for pid, count in uow.execute(query)}
