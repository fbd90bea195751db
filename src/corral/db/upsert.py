"""Dialect-specific INSERT variants, behind one signature."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect, Table, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from corral.db.bulk import BoundStatements, bind_rows, bound_statements


def insert_ignoring_conflicts(uow: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` (dicts with the same keys), skipping any that collide with a unique key.
    Returns rows inserted.

    Counted from ``RETURNING``: on PostgreSQL the driver's rowcount is -1 for these statements
    (SQLAlchemy adds its own RETURNING for the primary key), which reads as "inserted". The rows
    go as parameters of one statement built once per table: values written into the statement
    would make SQLAlchemy compile it anew on every call (milliseconds each)."""
    if not rows:
        return 0
    statement = _insert_returning(table, uow.get_bind().dialect.name)
    return len(uow.execute(statement, list(rows)).all())


@cache
def _insert_returning(table: Table, dialect: str) -> Any:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing().returning(literal_column("1"))


def insert_many_ignoring_conflicts(
    uow: Session, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert many rows in one batched statement, skipping rows that collide with a unique key.

    Unlike :func:`insert_ignoring_conflicts` the rows go as executemany parameters, so a batch of
    thousands of wide rows stays within the databases' limits on bound parameters.
    """
    if not rows:
        return
    dialect = uow.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    uow.execute(module.insert(table).on_conflict_do_nothing(), list(rows))


def bound_rollup_rows(
    dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """Rollup rows (dicts with the same keys) as the driver receives them, and their columns:
    converted before a write transaction, for :func:`rollup_statements` (which puts them in key
    order)."""
    columns = tuple(rows[0]) if rows else ()
    return columns, bind_rows(
        dialect, table, columns, [tuple(row[c] for c in columns) for row in rows]
    )


def rollup_statements(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: tuple[str, ...],
    add: tuple[str, ...] = (),
    least: tuple[str, ...] = (),
    greatest: tuple[str, ...] = (),
    keep_first: tuple[str, ...] = (),
    override: Callable[[Any, Any], dict[str, Any]] | None = None,
) -> BoundStatements:
    """Statements that insert rollup rows, or fold them into the rows already there.

    ``rows`` are converted already (:func:`bound_rollup_rows`); those of several batches may be
    joined. On a key collision: ``add`` columns are summed, ``least`` / ``greatest`` keep the
    smaller / larger value, ``keep_first`` keeps the stored value unless it is NULL, and
    ``override(table, excluded)`` returns any other assignments (pass a module-level function:
    the statement is built once per combination). Rows go in key order so that concurrent
    batches lock them in the same order (no deadlocks on PostgreSQL).
    """
    if not rows:
        return []
    statement = _rollup_statement(
        table, dialect.name, key, add, least, greatest, keep_first, override
    )
    order = itemgetter(*(columns.index(k) for k in key))
    return bound_statements(dialect, statement, table, columns, sorted(rows, key=order))


@cache
def _rollup_statement(
    table: Table,
    dialect: str,
    key: tuple[str, ...],
    add: tuple[str, ...],
    least: tuple[str, ...],
    greatest: tuple[str, ...],
    keep_first: tuple[str, ...],
    override: Callable[[Any, Any], dict[str, Any]] | None,
) -> Any:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    smaller = func.least if dialect == "postgresql" else func.min
    larger = func.greatest if dialect == "postgresql" else func.max
    statement = module.insert(table)
    excluded = statement.excluded
    assignments: dict[str, Any] = {}
    for name in add:
        assignments[name] = table.c[name] + excluded[name]
    for name in least:
        assignments[name] = smaller(table.c[name], excluded[name])
    for name in greatest:
        assignments[name] = larger(table.c[name], excluded[name])
    for name in keep_first:
        assignments[name] = func.coalesce(table.c[name], excluded[name])
    if override is not None:
        assignments.update(override(table, excluded))
    return statement.on_conflict_do_update(index_elements=list(key), set_=assignments)
