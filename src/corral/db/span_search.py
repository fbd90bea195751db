"""The dialect-specific half of text search over span contents (inputs, outputs, tool arguments
and tool results).

What a search matches is one rule on both databases: a span matches when one of those four texts
contains the query as a substring, compared case-insensitively (``ILIKE '%query%'``, the query
taken literally). The indexes only find candidates faster; the rule itself always decides.

- PostgreSQL: a ``pg_trgm`` GIN index over the four columns of ``spans``, kept in step by the
  database on insert and delete, so ``ILIKE`` itself is index-assisted.
- SQLite: an external-content FTS5 table (``span_search``, trigram tokenizer, ``detail=none``:
  only which spans hold a trigram, no positions: about three quarters of the text's size where
  positions would triple it). The
  ingest path does not write it: the ``span-search-index`` job adds spans in id order behind a
  watermark (``span_search_state.indexed_through``), so a search reads the index for spans up to
  the watermark and scans the short tail after it. A trigger on ``spans`` takes deleted spans out
  of the index (retention, purges, project deletion) and lowers the watermark when the newest
  spans go, since SQLite then hands their ids out again.

Queries shorter than :data:`MIN_INDEXED_LENGTH` have no trigram; callers scan instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Join, Subquery

from corral.db.schema import SpanRow

SEARCH_OBJECT_PREFIX = "span_search"
"""Tables, triggers and indexes of the span text index start with this; they are built by the
migration and are not part of the declared schema."""

MIN_INDEXED_LENGTH = 3
"""Characters a query needs before an index can find it (one trigram)."""

MAX_QUERY_TRIGRAMS = 24
"""Trigrams of a long query handed to SQLite's index: enough to make candidates rare, few enough
that reading their posting lists stays cheap. Every candidate is checked against the full query."""

SEARCHED_COLUMNS = (
    SpanRow.input_text,
    SpanRow.output_text,
    SpanRow.tool_arguments,
    SpanRow.tool_result,
)

_FTS = table("span_search", column("rowid", Integer))
_STATE = table("span_search_state", column("indexed_through", Integer))


def is_search_object(name: str | None) -> bool:
    """Whether a database object belongs to the span text index."""
    return bool(name) and str(name).startswith(SEARCH_OBJECT_PREFIX)


def contains_text(query: str) -> ColumnElement[bool]:
    """Spans whose inputs, outputs, tool arguments or tool results contain ``query``
    (case-insensitive, taken literally): the rule every search path applies."""
    pattern = f"%{_escape_like(query)}%"
    return or_(*(c.ilike(pattern, escape="\\") for c in SEARCHED_COLUMNS))


def is_indexable(query: str) -> bool:
    return len(query) >= MIN_INDEXED_LENGTH


def matching_spans(
    uow: Session, query: str, filters: list[ColumnElement[bool]], limit: int
) -> list[Any]:
    """Up to ``limit`` rows (``trace_id``) of spans that pass ``filters`` and contain ``query``,
    found through the index, newest first. ``query`` must be :func:`is_indexable`."""
    matches = [*filters, contains_text(query)]
    if uow.get_bind().dialect.name != "sqlite":
        # Newest first: rare text comes from the trigram index (and a sort of a few rows);
        # common text from walking the project's spans back in time, which soon has enough.
        statement = select(SpanRow.trace_id).where(*matches).order_by(SpanRow.start_time.desc())
        return list(uow.execute(statement.limit(limit)).all())
    # Not indexed yet: the spans after the watermark, a short range of ids, read first.
    watermark = select(_STATE.c.indexed_through).scalar_subquery()
    pending = select(SpanRow.id).where(SpanRow.id > watermark).subquery("span_search_pending")
    rows = list(uow.execute(_spans_among(pending, matches).limit(limit)).all())
    if len(rows) < limit:
        fts_match = literal_column("span_search").op("MATCH")(_fts_query(query))
        indexed = select(_FTS.c.rowid.label("id")).where(fts_match).subquery("span_search_hits")
        rows += uow.execute(_spans_among(indexed, matches).limit(limit - len(rows))).all()
    return rows


def _spans_among(candidates: Subquery, matches: list[ColumnElement[bool]]) -> Select[Any]:
    """The trace ids of the spans whose ids ``candidates`` lists that pass ``matches``, newest
    (highest id) first.

    The join is a CROSS JOIN, which SQLite performs in the order written: the ids first, then
    each span read by id. Left to choose, it would rather walk the project's spans by time and
    probe the ids (or the full-text index) once per span, reading the whole range."""
    join = _CrossJoin(candidates, SpanRow.__table__, SpanRow.id == candidates.c.id)
    query = select(SpanRow.trace_id).select_from(join).where(*matches)
    return query.order_by(candidates.c.id.desc())


class _CrossJoin(Join):
    """``left CROSS JOIN right ON …`` (SQLite only): joined in the order written."""

    inherit_cache = True


@compiles(_CrossJoin, "sqlite")
def _render_cross_join(join: _CrossJoin, compiler: SQLCompiler, **kw: Any) -> str:
    assert join.onclause is not None
    kw["asfrom"] = True
    left = compiler.process(join.left, **kw)
    right = compiler.process(join.right, **kw)
    return f"{left} CROSS JOIN {right} ON {compiler.process(join.onclause, **kw)}"


def _fts_query(query: str) -> str:
    """The FTS5 query for spans holding every trigram of ``query``: each trigram a quoted
    string, so quotes, ``*``, ``-``, ``NEAR`` and the like stay literal text."""
    trigrams = sorted({query[i : i + 3] for i in range(len(query) - 2)})
    if len(trigrams) > MAX_QUERY_TRIGRAMS:
        step = len(trigrams) / MAX_QUERY_TRIGRAMS
        trigrams = [trigrams[int(i * step)] for i in range(MAX_QUERY_TRIGRAMS)]
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in trigrams)


def unindexed(uow: Session) -> int:
    """SQLite: how many spans the index has not reached (ids after the watermark)."""
    newest = uow.execute(select(func.max(SpanRow.id))).scalar_one() or 0
    through = uow.execute(select(_STATE.c.indexed_through)).scalar_one()
    return max(0, int(newest) - int(through))


def index_pending(uow: Session, batch: int) -> int:
    """SQLite: add the next ``batch`` spans after the watermark to the index and move the
    watermark past them; returns how many were added. Call in a write transaction."""
    if uow.get_bind().dialect.name != "sqlite":
        return 0
    through = uow.execute(select(_STATE.c.indexed_through)).scalar_one()
    # The batch's last id and size in one row: fetching the ids themselves cost more than
    # indexing them.
    following = (
        select(SpanRow.id).where(SpanRow.id > through).order_by(SpanRow.id).limit(batch).subquery()
    )
    upto, count = uow.execute(select(func.max(following.c.id), func.count())).one()
    if not count:
        return 0
    uow.execute(
        text(
            "INSERT INTO span_search (rowid, input_text, output_text, tool_arguments, tool_result) "
            "SELECT id, input_text, output_text, tool_arguments, tool_result FROM spans "
            "WHERE id > :through AND id <= :upto"
        ),
        {"through": through, "upto": upto},
    )
    uow.execute(_STATE.update().values(indexed_through=upto))
    return int(count)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
