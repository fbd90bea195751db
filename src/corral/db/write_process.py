"""Conditional writes to a SQLite file from a process of their own.

SQLite has one write slot, and under a heavy ingest load the thread holding it sets the pace. In
the server process that thread shares the interpreter lock with the threads decoding the next
exports: it lets the lock go for every statement SQLite runs and must win it back afterwards,
waiting behind them each time. Measured here, one busy thread beside it made a batch insert take
three times as long; two, six times. A process that runs nothing but the writes never waits so.

What it runs is a :class:`ConditionalWrite`: queries with the rows they are expected to return,
then statements. The caller works everything out beforehand from what it read; if every query
still returns what it read, the statements run and commit, otherwise nothing is written and
the caller plans again with what is stored now. The process takes the same file lock as the
server's own writers (see :class:`corral.db.database.Database`), so they exclude each other.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Dialect

from corral.db.spawned import SpawnedProcess
from corral.errors import DatabaseBusy

log = logging.getLogger("corral.db")

Rows = tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class ConditionalWrite:
    """Statements to commit only if each query still returns its expected rows (in any order).

    Queries and statements are in the driver's SQL with its parameters (see
    :func:`driver_statement` and :func:`corral.db.bulk.bound_statements`)."""

    expected: list[tuple[str, Any, Rows]] = field(default_factory=list)
    statements: list[tuple[str, Any]] = field(default_factory=list)
    durable: bool = True


def driver_statement(dialect: Dialect, statement: Any) -> tuple[str, Any]:
    """A Core statement with its bound values, as the driver's SQL and parameters, each value
    converted by its column type (timestamps, JSON). Values of expanded ``IN`` lists go as they
    are: the ids and names they hold need no conversion."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    types = {name: bind.type for bind, name in compiled.bind_names.items()}

    def bound(name: str) -> Any:
        value = values[name]
        kind = types.get(name)
        process = kind.dialect_impl(dialect).bind_processor(dialect) if kind is not None else None
        return process(value) if process is not None and value is not None else value

    if dialect.positional:
        return str(compiled), tuple(bound(name) for name in compiled.positiontup or ())
    return str(compiled), {name: bound(name) for name in values}


def sorted_rows(rows: Any) -> Rows:
    """Rows as :class:`ConditionalWrite` compares them."""
    return tuple(sorted(tuple(row) for row in rows))


class WriteProcess:
    """The process writing to the SQLite file at ``path``, and the way to it.

    :meth:`write` blocks the calling thread until the write committed (True) or was refused
    because what was read changed (False). Should the process die, the write fails with
    :class:`BrokenProcessPool`; the next one starts a new process."""

    def __init__(
        self,
        path: str,
        lock_path: str,
        *,
        synchronous: str,
        pragmas: list[str],
        prepared_statements: int,
        wait_seconds: float,
    ) -> None:
        self._process = SpawnedProcess(
            _open, (path, lock_path, synchronous, pragmas, prepared_statements)
        )
        self._wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._pending = 0

    @property
    def pending(self) -> int:
        """Writes submitted and not answered yet."""
        return self._pending

    def start(self) -> None:
        """Start the process now (it takes a moment to import), not on the first write."""
        self._process.start()

    def write(self, request: ConditionalWrite) -> bool:
        """Raises :class:`~corral.errors.DatabaseBusy` if the write has not been answered within
        the wait, as a server thread waiting for the write slot would; a write already under way
        may still commit, and the client's retry then finds its spans stored."""
        with self._lock:
            self._pending += 1
        try:
            future = self._process.submit(_write, request)
            try:
                return bool(future.result(self._wait_seconds))
            except FutureTimeout:
                future.cancel()  # not started yet: it never will be
                raise DatabaseBusy(self._wait_seconds) from None
        finally:
            with self._lock:
                self._pending -= 1

    def stop(self) -> None:
        self._process.stop()


# --- in the write process --------------------------------------------------------------------

_connection: sqlite3.Connection | None = None
_lock_file: Any = None


def _open(
    path: str, lock_path: str, synchronous: str, pragmas: list[str], prepared_statements: int
) -> None:
    global _connection, _lock_file
    connection = sqlite3.connect(path, isolation_level=None, cached_statements=prepared_statements)
    for pragma in pragmas:  # the server's connections' own, given by the server
        connection.execute(f"PRAGMA {pragma}")
    _connection = connection
    _lock_file = open(lock_path, "a")  # noqa: SIM115 - held for the life of the process
    _synchronous[:] = [synchronous, synchronous]


_synchronous = ["FULL", "FULL"]
"""The setting for durable writes, and the one the connection has now."""


def _write(request: ConditionalWrite) -> bool:
    connection = _connection
    assert connection is not None
    wanted = _synchronous[0] if request.durable else "NORMAL"
    fcntl.flock(_lock_file, fcntl.LOCK_EX)
    try:
        if _synchronous[1] != wanted:
            connection.execute(f"PRAGMA synchronous={wanted}")
            _synchronous[1] = wanted
        connection.execute("BEGIN IMMEDIATE")
        try:
            for sql, parameters, rows in request.expected:
                if sorted_rows(connection.execute(sql, parameters)) != rows:
                    connection.execute("ROLLBACK")
                    return False
            for sql, parameters in request.statements:
                connection.execute(sql, parameters)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return True
    finally:
        fcntl.flock(_lock_file, fcntl.LOCK_UN)
