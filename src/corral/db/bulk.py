"""Bulk inserts for the hot ingest path.

A batch of spans is written with one compiled statement and the driver's ``executemany``. The
values are converted by the columns' own bind processors (the same code SQLAlchemy would run, so
timestamps and JSON are stored exactly as the ORM stores them), but without the per-row
bookkeeping of a general-purpose execute, which costs more than the insert itself at tens of
thousands of rows per second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from corral.db.types import UtcDateTime

BoundStatements = list[tuple[str, Any]]
"""Statements in the driver's own SQL with their parameters, ready to run: built before a write
transaction (see :func:`bound_statements`), run inside it by :func:`run_bound`."""


def insert_ignoring_conflicts_statements(
    dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> BoundStatements:
    """The statements inserting ``rows`` (tuples ordered as ``columns``, converted by
    :func:`bind_rows`), skipping rows that collide with a unique key."""
    module: Any = postgresql if dialect.name == "postgresql" else sqlite
    return bound_statements(dialect, _insert_statement(table, module), table, columns, rows)


@cache
def _insert_statement(table: Table, module: Any) -> Any:
    return module.insert(table).on_conflict_do_nothing()


def run_bound(uow: Session, statements: BoundStatements) -> None:
    """Run statements made by :func:`bound_statements`, in the caller's unit of work."""
    connection = uow.connection()
    for sql, parameters in statements:
        connection.exec_driver_sql(sql, parameters)


def run_bound_returning(
    uow: Session, statements: BoundStatements, columns: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """Run INSERT statements made by :func:`insert_ignoring_conflicts_statements` and return
    ``columns`` of the rows they inserted; rows skipped for a conflict are not returned.
    PostgreSQL only (its driver returns the rows of each execution of an ``executemany``)."""
    cursor: Any = uow.connection().connection.cursor()
    returning = " RETURNING " + ", ".join(columns)
    inserted: list[tuple[Any, ...]] = []
    for sql, parameters in statements:
        # As compiled for PostgreSQL, an INSERT returns the primary key: ``columns`` instead.
        statement = sql.partition(" RETURNING ")[0] + returning
        cursor.executemany(statement, parameters, returning=True)
        while True:
            inserted.extend(cursor.fetchall())
            if not cursor.nextset():
                break
    return inserted


def bind_rows(
    dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Iterable[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """``rows`` (tuples in ``columns`` order) as the driver receives them: each value converted
    by its column's bind processor. Needs no connection, so it can run before a transaction."""
    # Most columns (text, numbers) go to the driver as they are: only the few with a bind
    # processor (timestamps, JSON) are touched, which keeps the per-value work off the rest.
    converting = [(i, p) for i, p in enumerate(_processors(table, columns, dialect)) if p]
    if not converting:
        return [tuple(row) for row in rows]
    bound = []
    for row in rows:
        values = list(row)
        for i, process in converting:
            value = values[i]
            if value is not None:
                values[i] = process(value)
        bound.append(tuple(values))
    return bound


def bound_statements(
    dialect: Dialect,
    statement: Any,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> BoundStatements:
    """``statement`` (INSERT-like, built once: it is compiled once) for each of ``rows``
    (converted already by :func:`bind_rows`), as the driver's SQL and parameters.

    On SQLite the rows go many to a statement, and as few statements as the parameter limit
    allows: the driver lets other threads run while SQLite executes a statement and must win
    the interpreter back after it. Another busy thread keeps it for up to the interpreter's
    switch interval each time, while the writer holds the database's only write slot — which is
    also why the parameters are laid out here, before the transaction, and not in it."""
    if not rows:
        return []
    sql, order = _sql(statement, table, columns, dialect)
    if not dialect.positional:  # executemany, with named parameters
        return [(sql, [dict(zip(columns, row, strict=True)) for row in rows])]
    # Parameters come in the table's column order; rows are given in ``columns`` order.
    pick: Callable[[tuple[Any, ...]], tuple[Any, ...]] = (
        _same if order == tuple(range(len(order))) else itemgetter(*order)
    )
    statements: BoundStatements = []
    start = 0
    while start < len(rows):
        count = _rows_per_statement(len(rows) - start, len(columns))
        statements.append(
            (
                _many_rows_sql(sql, len(columns), count),
                tuple(value for row in rows[start : start + count] for value in pick(row)),
            )
        )
        start += count
    return statements


def _same(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row


_MAX_VARIABLES = 32_766
"""SQLite's bound-parameter limit (since 3.32; the trigram search index needs 3.34 anyway)."""


ROW_STEP = 64
"""Statements carry a multiple of this many rows, and then the rest: any batch takes at most
two statements (within the parameter limit), from texts few enough for the driver to keep
prepared (see :data:`corral.db.database.PREPARED_STATEMENTS`)."""


def _rows_per_statement(remaining: int, width: int) -> int:
    fits = max(1, _MAX_VARIABLES // width)
    if remaining < ROW_STEP or fits < ROW_STEP:
        return min(remaining, fits)
    return min(remaining, fits) // ROW_STEP * ROW_STEP


@cache
def _many_rows_sql(sql: str, width: int, count: int) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    head, found, tail = sql.partition(f"VALUES {one}")
    if not found:
        raise AssertionError(f"unexpected INSERT statement {sql}")
    return f"{head}VALUES {', '.join([one] * count)}{tail}"


@cache
def _sql(
    statement: Any, table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, tuple[int, ...]]:
    """The statement's text, and where each of its positional parameters is in ``columns``."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    order: tuple[int, ...] = ()
    if dialect.positional:
        names = [compiled.binds[name].key for name in compiled.positiontup or ()]
        if sorted(names) != sorted(columns):
            raise AssertionError(f"unexpected parameters {names}")
        order = tuple(columns.index(name) for name in names)
    return str(compiled), order


def bind_processors(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> list[Callable[[Any], Any] | None]:
    """What :func:`bind_rows` applies to each of ``columns`` (None: the value goes as it is),
    for a caller that converts a value shared by many rows once."""
    return _processors(table, columns, dialect)


@cache
def _processors(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> list[Callable[[Any], Any] | None]:
    return [
        _sqlite_utc
        if dialect.name == "sqlite" and isinstance(table.c[name].type, UtcDateTime)
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    ]


def _sqlite_utc(value: datetime) -> str:
    """What :class:`UtcDateTime` stores on SQLite (naive UTC, microseconds always written, as
    SQLAlchemy's SQLite DATETIME does), at a fraction of the cost; a test holds them equal."""
    if value.tzinfo is UTC:  # the usual case: drop the "+00:00" that isoformat appends
        return value.isoformat(" ", "microseconds")[:-6]
    if value.tzinfo is None:
        raise ValueError("UtcDateTime needs a timezone-aware datetime")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")
