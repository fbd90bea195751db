"""The dialect-specific half of memory search: the full-text index and the term counters.

SQLite keeps an external-content FTS5 table (``memory_fts``) in step with ``memory_items`` through
triggers; PostgreSQL keeps a stored ``tsvector`` column (``memory_fts_vector``) with a GIN index.
Both index the same text: ``memory_items.search_text``, whose tokens already carry the project
(``p<project id>x<term>``), so one lookup reads only that project's postings. Everything above
this module sees one function per need and no SQL dialect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import union as sql_union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from corral.db import span_search
from corral.db.schema import MemoryItemRow, MemoryStatsRow, MemoryTermRow

SEARCH_OBJECT_PREFIX = "memory_fts"
"""Tables, columns and indexes of the full-text index start with this; they are built by the
migration and are not part of the declared schema."""

_FTS = table("memory_fts", column("rowid", Integer))
_CHUNK = 2000


def is_search_object(name: str | None) -> bool:
    """Whether a database object belongs to the full-text index (schema comparison skips it)."""
    return bool(name) and str(name).startswith(SEARCH_OBJECT_PREFIX)


def include_name(name: str | None, type_: Any, _parent: Any) -> bool:
    """Alembic ``include_name`` hook: leave the full-text indexes (of memory items and of span
    contents) out of schema comparison."""
    return not (is_search_object(name) or span_search.is_search_object(name))


def project_token(project_id: int, term: str) -> str:
    """The index token of ``term`` in one project."""
    return f"p{project_id}x{term}"


def _dialect(uow: Session) -> str:
    return uow.get_bind().dialect.name


def _matches(dialect: str, token: str, name: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # Quoted: an FTS5 query string, where a bare token could read as an operator.
        return literal_column("memory_fts").op("MATCH")(bindparam(name, f'"{token}"'))
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam(name, token))
    return literal_column("memory_items.memory_fts_vector").op("@@")(tsquery)


def has_tag(dialect: str, tag: str) -> ColumnElement[bool]:
    """Items whose tags include ``tag``."""
    if dialect == "postgresql":
        return MemoryItemRow.tags.op("@>")(func.jsonb_build_array(tag))
    # Tags are validated (no quotes, no spaces), so a quoted match in the JSON text is exact.
    return cast(MemoryItemRow.tags, String).contains(f'"{tag}"', autoescape=True)


def candidate_ids(
    uow: Session,
    project_id: int,
    tokens: Sequence[str],
    filters: Sequence[ColumnElement[bool]],
    per_token: int,
) -> list[int]:
    """Ids of items of the project that hold any of ``tokens`` and pass ``filters``: for each
    token, the ``per_token`` most recent such items. The same rule on both databases, so both
    hand the same candidates to scoring."""
    if not tokens:
        return []
    dialect = _dialect(uow)
    selects = []
    for index, token in enumerate(tokens):
        query = select(MemoryItemRow.id).where(
            MemoryItemRow.project_id == project_id,
            _matches(dialect, token, f"tok{index}"),
            *filters,
        )
        if dialect == "sqlite":
            query = query.select_from(_FTS.join(MemoryItemRow, MemoryItemRow.id == _FTS.c.rowid))
            query = query.order_by(_FTS.c.rowid.desc())
        else:
            query = query.order_by(MemoryItemRow.id.desc())
        sub = query.limit(per_token).subquery()
        selects.append(select(sub.c.id))
    statement = selects[0] if len(selects) == 1 else sql_union(*selects)
    return [int(v) for v in uow.scalars(statement)]


def adjust_terms(uow: Session, project_id: int, deltas: Mapping[str, int]) -> None:
    """Add ``deltas`` to the document frequencies of terms in a project.

    Terms are written in sorted order so that concurrent writers on PostgreSQL lock rows in the
    same order and cannot deadlock.
    """
    rows: list[dict[str, Any]] = [
        {"project_id": project_id, "term": term, "df": delta}
        for term, delta in sorted(deltas.items())
        if delta
    ]
    if not rows:
        return
    module: Any = postgresql if _dialect(uow) == "postgresql" else sqlite
    statement = module.insert(MemoryTermRow)
    statement = statement.on_conflict_do_update(
        index_elements=["project_id", "term"],
        set_={"df": MemoryTermRow.df + statement.excluded.df},
    )
    # One statement, many parameter sets: the driver's executemany, no SQL built per batch.
    uow.execute(statement, rows)
    if any(row["df"] < 0 for row in rows):
        gone = [row["term"] for row in rows if row["df"] < 0]
        for start in range(0, len(gone), _CHUNK):
            uow.execute(
                sql_delete(MemoryTermRow).where(
                    MemoryTermRow.project_id == project_id,
                    MemoryTermRow.term.in_(gone[start : start + _CHUNK]),
                    MemoryTermRow.df <= 0,
                )
            )


def adjust_stats(uow: Session, project_id: int, docs: int, terms: int) -> None:
    """Add to a project's indexed item count and total indexed length."""
    if not docs and not terms:
        return
    module: Any = postgresql if _dialect(uow) == "postgresql" else sqlite
    statement = module.insert(MemoryStatsRow).values(
        project_id=project_id, doc_count=docs, total_terms=terms
    )
    statement = statement.on_conflict_do_update(
        index_elements=["project_id"],
        set_={
            "doc_count": MemoryStatsRow.doc_count + statement.excluded.doc_count,
            "total_terms": MemoryStatsRow.total_terms + statement.excluded.total_terms,
        },
    )
    uow.execute(statement)
