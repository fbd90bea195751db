"""Bulk inserts for the hot ingest path.

A batch of spans is written with one compiled statement and the driver's ``executemany``. The
values are converted by the columns' own bind processors (the same code SQLAlchemy would run, so
timestamps and JSON are stored exactly as the ORM stores them), but without the per-row
bookkeeping of a general-purpose execute, which costs more than the insert itself at tens of
thousands of rows per second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from corral.db.types import UtcDateTime


def bulk_insert_ignoring_conflicts(
    uow: Session, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples ordered as ``columns``) in one executemany, skipping rows that
    collide with a unique key."""
    if not rows:
        return
    dialect = uow.connection().dialect
    module: Any = postgresql if dialect.name == "postgresql" else sqlite
    execute_many(uow, _insert_statement(table, module), table, columns, rows)


@cache
def _insert_statement(table: Table, module: Any) -> Any:
    return module.insert(table).on_conflict_do_nothing()


def execute_many(
    uow: Session,
    statement: Any,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Run an INSERT-like ``statement`` (built once and reused: it is compiled once) for each
    row of ``rows``, given as tuples in ``columns`` order."""
    if not rows:
        return
    connection = uow.connection()
    sql, positional, processors = _prepared(statement, table, columns, connection.dialect)
    # Most columns (text, numbers) go to the driver as they are: only the few with a bind
    # processor (timestamps, JSON) are touched, which keeps the per-value work off the rest.
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    converted: list[Any] = []
    for row in rows:
        values = list(row)
        for i, process in converting:
            value = values[i]
            if value is not None:
                values[i] = process(value)
        converted.append(tuple(values) if positional else dict(zip(columns, values, strict=True)))
    connection.exec_driver_sql(sql, converted)


@cache
def _prepared(
    statement: Any, table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, bool, list[Callable[[Any], Any] | None]]:
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    if dialect.positional:
        order = [compiled.binds[name].key for name in compiled.positiontup or ()]
        if order != list(columns):
            raise AssertionError(f"unexpected parameter order {order}")
    processors: list[Callable[[Any], Any] | None] = [
        _sqlite_utc
        if dialect.name == "sqlite" and isinstance(table.c[name].type, UtcDateTime)
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    ]
    return str(compiled), bool(dialect.positional), processors


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
