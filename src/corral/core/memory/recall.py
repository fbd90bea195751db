"""Recall: ranked search in one project's memory (or, when asked for, several).

1. The query is analysed like items are (:mod:`corral.core.memory.text`).
2. Candidates come from the full-text index: for each query term, the newest
   ``CORRAL_MEMORY_RECALL_CANDIDATES`` items of the project that hold it and pass the filters.
   Rare terms (those that matter to BM25) bring all their items.
3. Every candidate is scored here, in Python, with the same formula on both databases
   (:mod:`corral.core.memory.ranking`), using the project's own term statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.audit import record_audit
from corral.core.memory import ranking, text
from corral.core.memory.dense import load_encoder
from corral.core.memory.describe import describe_item
from corral.core.memory.scope import activity_is_stale, enter, note_read
from corral.core.memory.store import ItemFilter, ProjectMemory, validity_bounds
from corral.core.runtime import Runtime
from corral.errors import InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.memory import (
    MemoryKind,
    RecallHit,
    RecallResult,
    ScoreBreakdown,
    Validity,
)

MAX_LIMIT = 100


@dataclass(frozen=True)
class RecallQuery:
    """What to look for and which items may answer."""

    query: str
    kinds: tuple[MemoryKind, ...] = ()
    tags: tuple[str, ...] = ()
    key: str | None = None
    validity: Validity = Validity.CURRENT
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 10

    def check(self) -> None:
        if not self.query.strip():
            raise InvalidRequest("the query is empty.", code="empty_query")
        if len(self.query) > 4000:
            raise InvalidRequest("the query is longer than 4000 characters.", code="query_too_long")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be 1 to {MAX_LIMIT}.", code="invalid_limit")

    def where(self, now: datetime) -> ItemFilter:
        current, ended = validity_bounds(self.validity.value, now)
        return ItemFilter(
            kinds=tuple(k.value for k in self.kinds),
            tags=self.tags,
            key=self.key,
            current_at=current,
            ended_at=ended,
            since=self.since,
            until=self.until,
        )


def search(
    rt: Runtime,
    mem: ProjectMemory,
    query: RecallQuery,
    now: datetime,
    exclude: set[int] | None = None,
) -> list[RecallHit]:
    """Rank one project's items for a query, inside the caller's unit of work."""
    terms = text.query_terms(query.query)
    if not terms:
        return []
    candidates = mem.candidates(terms, query.where(now), rt.settings.memory_recall_candidates)
    if exclude:
        candidates = [c for c in candidates if c.id not in exclude]
    if not candidates:
        return []
    stats = mem.stats(terms)
    tokens = [mem.token(term) for term in terms]
    lexical = ranking.bm25_scores(terms, tokens, candidates, stats)
    dense = None
    encoder = load_encoder(rt.settings.memory_dense_encoder)
    if encoder is not None:
        rows = mem.by_ids([c.id for c in candidates])
        ordered = [c.id for c in candidates]
        scores = encoder.similarities(query.query, [rows[i].content for i in ordered])
        dense = dict(zip(ordered, scores, strict=True))
    ranked = ranking.rank(
        candidates,
        lexical,
        dense,
        now=now,
        half_life_days=rt.settings.memory_recency_half_life_days,
    )[: query.limit]
    rows = mem.by_ids([s.id for s in ranked])
    return [
        RecallHit(
            item=describe_item(rows[s.id], mem.project.name),
            score=s.score,
            breakdown=ScoreBreakdown(
                bm25=s.bm25,
                dense=s.dense,
                relevance=s.relevance,
                recency=s.recency,
                recency_factor=s.recency_factor,
                pinned_factor=s.pinned_factor,
                importance_factor=s.importance_factor,
                matched_terms=list(s.matched),
            ),
        )
        for s in ranked
    ]


def recall(rt: Runtime, actor: Principal, project: str, query: RecallQuery) -> RecallResult:
    """The items of one project that best answer ``query``, with their score breakdown."""
    now = rt.clock.now()
    with rt.db.read() as uow:
        mem = enter(uow, actor, project, Permission.MEMORY_READ)
        query.check()
        hits = search(rt, mem, query, now)
        stale = activity_is_stale(uow, actor, mem.project_id, now)
    note_read(rt, actor, mem.project, stale)
    return RecallResult(query=query.query, projects=[project], hits=hits)


def recall_across(
    rt: Runtime, actor: Principal, projects: list[str], query: RecallQuery
) -> RecallResult:
    """Recall over several named projects, merged by score. Only on explicit request: the caller
    names every project, must hold ``memory:read`` in each, and the search is audited."""
    query.check()
    names = list(dict.fromkeys(projects))
    if not names:
        raise InvalidRequest("name at least one project.", code="no_projects")
    if len(names) > 20:
        raise InvalidRequest("recall across at most 20 projects at once.", code="too_many_projects")
    now = rt.clock.now()
    with rt.db.read() as uow:
        memories = [enter(uow, actor, name, Permission.MEMORY_READ) for name in names]
        hits = [hit for mem in memories for hit in search(rt, mem, query, now)]
    hits.sort(key=lambda h: (-h.score, -h.item.id))
    with rt.db.write() as uow:
        _audit_across(uow, actor, names, query, len(hits), now)
    return RecallResult(query=query.query, projects=names, hits=hits[: query.limit])


def _audit_across(
    uow: Session, actor: Principal, names: list[str], query: RecallQuery, found: int, now: datetime
) -> None:
    record_audit(
        uow,
        actor=actor,
        action="memory.recall_across",
        target_kind="project",
        target_id=",".join(names),
        details={"projects": names, "hits": found, "limit": query.limit},
        now=now,
    )
