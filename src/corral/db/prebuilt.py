"""Statements compiled once per dialect and run on the driver's own connection.

For the short transactions that run before every gateway call. SQLAlchemy's general execution
path (session, connection wrapper, compiled-cache lookup, result objects) costs tens of
microseconds per statement, several times what SQLite takes to run a lookup by key; here a
statement is compiled once, its parameters converted by the columns' own bind processors (so
values are stored exactly as the ORM stores them), and the driver runs it.

On PostgreSQL the statements of one step can be sent together (:meth:`Driver.pipeline`): several
lookups then cost one round trip instead of one each. They go out as one query string, each
statement's parameters quoted as literals by psycopg's adapters: the driver then waits
once per round trip, where its own pipeline mode polls the socket for every statement sent
(most of a one-call hold's CPU time).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Dialect, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import ClauseElement, ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    from psycopg import Connection as PsycopgConnection
    from psycopg.abc import Transformer


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None
    """The parameters' names in positional order; None when the driver takes names."""
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    returns_rows: bool
    defaults: Mapping[str, Any]
    """Values the statement holds itself (a LIMIT, a literal compared to)."""
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    """Result columns the driver returns otherwise than the ORM would (SQLite's timestamps and
    JSON are text), by position, with their columns' own result processors."""


class Prebuilt:
    """A Core statement, compiled once per dialect.

    Args:
        statement: The statement, with named ``bindparam`` parameters.
        columns: For an INSERT, the columns it sets (by default every column).
    """

    def __init__(self, statement: ClauseElement, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        # By dialect and driver: every engine of one kind compiles the statement alike.
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The statement's text for ``dialect``, and how its parameters are passed."""
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.columns)
            assert isinstance(compiled, SQLCompiler)
            processors = []
            defaults = {}
            for name, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors.append((name, process))
                if not bind.required:
                    defaults[name] = bind.effective_value
            order = tuple(compiled.positiontup or ()) if dialect.positional else None
            writes = compiled.isinsert or compiled.isupdate or compiled.isdelete
            converters = []
            for position, column in enumerate(getattr(self.statement, "selected_columns", ())):
                convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if convert is not None:
                    converters.append((position, convert))
            found = self._compiled[key] = _Compiled(
                str(compiled),
                order,
                tuple(processors),
                returns_rows=not writes or bool(compiled.effective_returning),
                defaults=defaults,
                converters=tuple(converters),
            )
        return found


class Pending:
    """A statement sent; its rows once they are needed."""

    def __init__(self, compiled: _Compiled, fetch: Callable[[Pending], None]) -> None:
        self._compiled = compiled
        self._fetch = fetch
        """Makes the statement's rows arrive (:meth:`arrived`), when first needed."""
        self._rows: list[tuple[Any, ...]] | None = None

    @property
    def returns_rows(self) -> bool:
        return self._compiled.returns_rows

    def arrived(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def rows(self) -> list[tuple[Any, ...]]:
        if not self._compiled.returns_rows:
            return []
        if self._rows is None:
            self._fetch(self)
        rows = self._rows
        assert rows is not None
        converters = self._compiled.converters
        if not converters or not rows:
            return rows
        converted = []
        for row in rows:
            values = list(row)
            for position, convert in converters:
                values[position] = convert(values[position])
            converted.append(tuple(values))
        return converted


class Driver:
    """Runs prebuilt statements on the driver's connection, in the transaction it is in.

    Args:
        connection: The driver's connection (sqlite3 or psycopg).
        dialect: The engine's dialect (its JSON serializer converts JSON values).
    """

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect
        self.postgresql = dialect.name == "postgresql"
        self._queued: list[tuple[str, Pending | None]] | None = None
        """Inside :meth:`pipeline` on PostgreSQL: the statements not sent yet, bound."""

    @classmethod
    def of(cls, connection: Connection) -> Driver:
        """The driver under a SQLAlchemy connection, in its transaction."""
        return cls(connection.connection.driver_connection, connection.dialect)

    def send(self, statement: Prebuilt, values: Mapping[str, Any]) -> Pending:
        """Run ``statement``; inside :meth:`pipeline` on PostgreSQL, only queue it."""
        compiled = statement.compiled(self.dialect)
        params = _params(compiled, values)
        if self._queued is not None:
            pending = Pending(compiled, lambda _: self.flush())
            self._queued.append((self._bound(compiled.sql, params), pending))
            return pending
        cursor = self.connection.cursor()
        cursor.execute(compiled.sql, params)
        return Pending(compiled, lambda pending: pending.arrived(cursor.fetchall()))

    def send_many(self, statement: Prebuilt, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run ``statement``, which returns no rows, once for each of ``rows``: its text is
        converted once, and on PostgreSQL no result is kept per row (inside :meth:`pipeline`,
        only queued)."""
        compiled = statement.compiled(self.dialect)
        assert not compiled.returns_rows, "send_many is for statements that return no rows"
        if not rows:
            return
        params = [_params(compiled, values) for values in rows]
        if self._queued is not None:
            self._queued.extend((self._bound(compiled.sql, p), None) for p in params)
            return
        self.connection.cursor().executemany(compiled.sql, params)

    def command(self, sql: str) -> None:
        """Run a statement that takes no parameters and returns no rows (``BEGIN``, ``SET
        LOCAL …``, ``COMMIT``); inside :meth:`pipeline` on PostgreSQL, only queue it."""
        if self._queued is not None:
            self._queued.append((sql, None))
        else:
            self.connection.execute(sql)

    def rows(self, statement: Prebuilt, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run ``statement`` and return its rows."""
        return self.send(statement, values).rows()

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """On PostgreSQL, statements sent in this block are queued and go out together, in one
        round trip, when the rows of one of them are first needed, and at the end of the block.
        A statement that fails raises there, and those after it in its round trip do not run.
        Elsewhere, statements run as they are sent."""
        if not self.postgresql or self._queued is not None:
            yield
            return
        self._queued = []
        try:
            yield
            self.flush()
        finally:
            self._queued = None

    def flush(self) -> None:
        """Send the statements queued in :meth:`pipeline`, in one round trip, and keep their
        rows for their :class:`Pending`."""
        queued = self._queued
        if not queued:
            return
        self._queued = []
        cursor = self.connection.cursor()
        # No parameters: one simple query, however many statements it holds.
        cursor.execute(";\n".join(sql for sql, _ in queued))
        for position, (_, pending) in enumerate(queued):
            if position:
                cursor.nextset()
            if pending is not None:
                # By the statement, not the cursor's description (built anew for each result).
                pending.arrived(cursor.fetchall() if pending.returns_rows else [])

    def _bound(self, sql: str, params: Mapping[str, Any]) -> str:
        """``sql`` with its parameters bound as literals, quoted as psycopg's client-side
        binding quotes them."""
        binder = _binder(self.connection)
        literal, encoding = binder.as_literal, binder.encoding
        # The statement's text is SQLAlchemy's for psycopg: ``%(name)s`` placeholders, ``%%``
        # for a percent sign, as psycopg's binding fills them.
        return sql % {
            name: "NULL" if value is None else literal(value).decode(encoding)
            for name, value in params.items()
        }


_binders: weakref.WeakKeyDictionary[PsycopgConnection[Any], Transformer] = (
    weakref.WeakKeyDictionary()
)


def _binder(connection: PsycopgConnection[Any]) -> Transformer:
    """The psycopg transformer that quotes literals for ``connection``, kept with it: psycopg's
    ``mogrify`` makes one per statement, and looks up each value's adapter again."""
    binder = _binders.get(connection)
    if binder is None:
        from psycopg import adapt

        binder = _binders[connection] = adapt.Transformer(connection)
    return binder


def _params(compiled: _Compiled, values: Mapping[str, Any]) -> Any:
    """The driver's parameters of a statement: its own values added, each converted by its
    column's bind processor, in positional order if the driver takes them so."""
    if compiled.defaults:
        values = {**compiled.defaults, **values}
    if compiled.processors:
        values = dict(values)
        for name, process in compiled.processors:
            value = values[name]
            if value is not None:
                values[name] = process(value)
    return values if compiled.order is None else tuple(values[name] for name in compiled.order)


class ByKeys:
    """A statement finding rows by a key column, for several keys at once: on SQLite one lookup
    per key (an index seek of microseconds, no round trip), on PostgreSQL one statement for all
    (``= ANY``: one round trip, and rows locked in the statement's order).

    Args:
        build: Makes the statement from the condition matching the key column.
        column: The key column.
        key_type: The keys' type (PostgreSQL receives them as an array of it).
    """

    def __init__(
        self,
        build: Callable[[ColumnElement[bool]], ClauseElement],
        column: ColumnElement[Any],
        key_type: TypeEngine[Any],
    ) -> None:
        self._each = Prebuilt(build(column == bindparam("key")))
        self._all = Prebuilt(build(column == any_(bindparam("keys", type_=ARRAY(key_type)))))

    def send(
        self, driver: Driver, keys: Sequence[Any], values: Mapping[str, Any] | None = None
    ) -> list[Pending]:
        """Run the lookups (inside :meth:`Driver.pipeline` on PostgreSQL, only send them)."""
        if not keys:
            return []
        if driver.postgresql:
            return [driver.send(self._all, {**(values or {}), "keys": list(keys)})]
        return [driver.send(self._each, {**(values or {}), "key": key}) for key in keys]

    def rows(
        self, driver: Driver, keys: Sequence[Any], values: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of every key."""
        return rows_of(self.send(driver, keys, values))


def rows_of(sent: Sequence[Pending]) -> list[tuple[Any, ...]]:
    """The rows of statements sent, in order."""
    return [row for pending in sent for row in pending.rows()]
