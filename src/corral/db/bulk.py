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
    converted: list[Any]
    if positional:
        converted = [
            tuple(
                v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)
            )
            for row in rows
        ]
    else:
        converted = [
            {
                name: v if p is None or v is None else p(v)
                for name, p, v in zip(columns, processors, row, strict=True)
            }
            for row in rows
        ]
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
    if value.tzinfo is None:
        raise ValueError("UtcDateTime needs a timezone-aware datetime")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")
