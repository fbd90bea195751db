"""One object that owns the engine and hands out units of work."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import Engine, PoolProxiedConnection, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from corral.db.checkpoints import WalCheckpointer
from corral.db.types import dump_json, load_json
from corral.db.write_process import ConditionalWrite, WriteProcess
from corral.errors import DatabaseBusy, InvalidRequest

log = logging.getLogger("corral.db")

Dialect = Literal["sqlite", "postgresql"]

PREPARED_STATEMENTS = 512
"""Statements each SQLite connection keeps prepared (the driver's default is 128): bulk writes
use one text per row count (see :data:`corral.db.bulk.ROW_STEP`), and preparing a statement of
hundreds of rows costs more than running it."""

DEFAULT_AUTOCHECKPOINT = 1000
"""SQLite's own: a commit that grows the WAL past this many pages checkpoints it."""

WRITE_WAIT_SECONDS = 30.0
"""How long a write waits for the SQLite writer slot before giving up with a 503."""


def sqlite_pragmas(synchronous: str) -> list[str]:
    """What every connection to a SQLite file is set to, the write process's included."""
    return [
        "journal_mode=WAL",
        "busy_timeout=30000",
        "foreign_keys=ON",
        f"synchronous={synchronous}",
        "temp_store=MEMORY",
        "cache_size=-65536",
    ]


def _configure_sqlite(engine: Engine, synchronous: str, autocheckpoint: Callable[[], int]) -> None:
    """WAL, a busy timeout, foreign keys, and transactions that Corral controls.

    pysqlite opens transactions lazily and never as ``BEGIN IMMEDIATE``; a read transaction that
    later writes can then fail with SQLITE_BUSY without waiting. Corral emits BEGIN itself and
    uses ``BEGIN IMMEDIATE`` for units of work that write.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(synchronous):
            cursor.execute(f"PRAGMA {pragma}")
        record.info["corral_synchronous"] = synchronous
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("corral_write", False):
            durable = options.get("corral_durable", True)
            _begin_sqlite_write(
                connection.info,
                connection.exec_driver_sql,
                synchronous if durable else "NORMAL",
                autocheckpoint(),
            )
        else:
            connection.exec_driver_sql("BEGIN")


def _begin_sqlite_write(
    info: dict[str, Any], execute: Callable[[str], Any], synchronous: str, autocheckpoint: int
) -> None:
    """Begin a SQLite write transaction on a connection (``info``: its pool record's), with the
    commit's ``synchronous`` (a WAL commit at NORMAL is safe from a process crash but not from a
    power loss until the next flushed commit or checkpoint) and the automatic checkpoints wanted.

    The pragmas are set only when they change: every statement in a write costs the writer a
    round trip through the interpreter lock (see :func:`corral.db.bulk.bound_statements`)."""
    if info.get("corral_synchronous") != synchronous:
        execute(f"PRAGMA synchronous={synchronous}")
        info["corral_synchronous"] = synchronous
    if info.get("corral_autocheckpoint", DEFAULT_AUTOCHECKPOINT) != autocheckpoint:
        execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        info["corral_autocheckpoint"] = autocheckpoint
    execute("BEGIN IMMEDIATE")


def _configure_postgresql(engine: Engine) -> None:
    """Transactions marked not durable commit without waiting for the WAL flush."""

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get("corral_durable", True):
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


class Database:
    """The database of one Corral server, SQLite or PostgreSQL.

    ``read()`` and ``write()`` give a SQLAlchemy session inside one transaction. A write unit of
    work commits when the block ends without an exception and rolls back otherwise, so a caller
    acknowledges nothing that is not committed.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        self.url = make_url(url)
        backend = self.url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise InvalidRequest(
                f"unsupported database {backend!r}: use sqlite:///PATH or postgresql+psycopg://…",
                code="unsupported_database",
            )
        self.dialect: Dialect = "sqlite" if backend == "sqlite" else "postgresql"
        self._file_lock: _FileLock | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._write_process: WriteProcess | None = None
        self._synchronous = sqlite_synchronous
        self._slot_waiters = 0
        self._waiters_lock = threading.Lock()
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=60,
                connect_args={"cached_statements": PREPARED_STATEMENTS},
                json_serializer=dump_json,
                json_deserializer=load_json,
            )
            _configure_sqlite(self.engine, sqlite_synchronous, self._autocheckpoint_pages)
            # One writer at a time: waiting on a lock is far cheaper than SQLite's busy loop,
            # which sleeps up to 100 ms between tries. Threads queue on a lock, and worker
            # processes on the same file queue on an flock beside the database.
            self._write_lock: _Lock = _WriteSlot(WRITE_WAIT_SECONDS)
            if database and database != ":memory:":
                lock_path = (
                    Path(database).expanduser().with_name(Path(database).name + ".write-lock")
                )
                self._file_lock = _FileLock(lock_path)
                self._write_lock = _Chained(self._write_lock, self._file_lock)
        else:
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_timeout=60,
                # No server-side prepared statements: a generic plan cached while a table was
                # small (or had no statistics yet) would be reused as it grows to millions of
                # rows; the span queries need plans made for their actual values.
                connect_args={"prepare_threshold": None},
                json_serializer=dump_json,
                json_deserializer=load_json,
            )
            _configure_postgresql(self.engine)
            self._write_lock = _Unlocked()
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            bind=self.engine.execution_options(corral_write=True), expire_on_commit=False
        )
        self._lazy_writer = sessionmaker(
            bind=self.engine.execution_options(corral_write=True, corral_durable=False),
            expire_on_commit=False,
        )

    @property
    def single_writer(self) -> bool:
        """Whether one transaction writes at a time (SQLite): concurrent writers then gain by
        sharing a transaction and its durable commit, and cannot deadlock doing so."""
        return self.dialect == "sqlite"

    @contextmanager
    def driver_write(
        self, connection: PoolProxiedConnection, *, durable: bool = True, urgent: bool = False
    ) -> Iterator[Any]:
        """A SQLite write transaction on a pooled connection's own driver connection, for
        writers that run prebuilt statements on the driver (see :mod:`corral.db.prebuilt`):
        the same write slot, pragmas, checkpoints and ``urgent`` as :meth:`write`. Yields the
        driver connection; commits at the end of the block, rolls back on an error."""
        with self._write_slot(urgent), self._driver_transaction(connection, durable) as driver:
            yield driver
        if self._checkpointer is not None:
            self._checkpointer.after_write()

    @contextmanager
    def driver_write_now(
        self, connection: PoolProxiedConnection, *, durable: bool = True
    ) -> Iterator[Any | None]:
        """:meth:`driver_write` if the write slot is free at this moment; else it yields None
        at once (SQLite only: elsewhere too), for a caller on an event loop, which must not
        wait for another writer."""
        if not self.single_writer or not self._write_lock.try_enter():
            yield None
            return
        try:
            with self._driver_transaction(connection, durable) as driver:
                yield driver
        finally:
            self._write_lock.__exit__(None, None, None)
        if self._checkpointer is not None:
            self._checkpointer.after_write()

    @contextmanager
    def _driver_transaction(
        self, connection: PoolProxiedConnection, durable: bool
    ) -> Iterator[Any]:
        driver = connection.driver_connection
        assert driver is not None
        _begin_sqlite_write(
            connection.info,
            driver.execute,
            self._synchronous if durable else "NORMAL",
            self._autocheckpoint_pages(),
        )
        try:
            yield driver
        except BaseException:
            driver.execute("ROLLBACK")
            raise
        driver.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that only reads. Closing it ends the transaction without a commit and
        leaves loaded rows readable (a rollback would expire them)."""
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self, *, durable: bool = True, urgent: bool = False) -> Iterator[Session]:
        """A unit of work that commits at the end of the block.

        Args:
            durable: Wait for the commit to reach the disk. Without it the commit survives a
                crash of the process but not of the machine (until the next durable commit);
                for records whose loss the caller can accept in exchange for latency.
            urgent: A caller waits for this write (a gateway call for its budget hold): on
                SQLite it takes the write slot before this process's writers that are not
                urgent, whenever they began to wait.
        """
        maker = self._writer if durable else self._lazy_writer
        with self._write_slot(urgent), maker() as session, session.begin():
            yield session
        if self._checkpointer is not None:
            self._checkpointer.after_write()

    @property
    def writers_waiting(self) -> bool:
        """Whether a thread of this process waits for the write slot (SQLite: held by another
        thread, or by another process on the same file), or for the write process."""
        process = self._write_process
        return self._slot_waiters > 0 or (process is not None and process.pending > 0)

    def start_write_process(self) -> None:
        """Run :meth:`conditional_write` in a process of its own (SQLite files; see
        :mod:`corral.db.write_process`). Stopped by :meth:`dispose`."""
        if self._file_lock is None or self._write_process is not None:
            return
        database = str(Path(self.url.database or "").expanduser())
        process = WriteProcess(
            database,
            str(self._file_lock.path),
            synchronous=self._synchronous,
            pragmas=[
                *sqlite_pragmas(self._synchronous),
                f"wal_autocheckpoint={self._autocheckpoint_pages()}",
            ],
            prepared_statements=PREPARED_STATEMENTS,
            wait_seconds=WRITE_WAIT_SECONDS,
        )
        process.start()
        self._write_process = process

    def conditional_write(self, request: ConditionalWrite) -> bool | None:
        """Commit ``request`` in the write process: True when written, False when what it
        expected changed (nothing written), None when there is no write process to do it (none
        runs, or it just died: the caller writes itself, checking what is stored anew)."""
        process = self._write_process
        if process is None:
            return None
        try:
            written = process.write(request)
        except BrokenProcessPool:
            log.warning("the SQLite write process stopped; a new one starts with the next write")
            return None
        if written and self._checkpointer is not None:
            self._checkpointer.after_write()
        return written

    @contextmanager
    def _write_slot(self, urgent: bool = False) -> Iterator[None]:
        with self._waiters_lock:
            self._slot_waiters += 1
        try:
            self._write_lock.enter(urgent=urgent)
        finally:
            with self._waiters_lock:
                self._slot_waiters -= 1
        try:
            yield
        finally:
            self._write_lock.__exit__(None, None, None)

    def start_background_checkpoints(self) -> None:
        """Checkpoint the WAL from a thread of this process instead of inside commits (SQLite
        files; see :mod:`corral.db.checkpoints`). For a long-running server: other processes on
        the same file keep SQLite's automatic checkpoints. Stopped by :meth:`dispose`."""
        database = self.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return
        if self._checkpointer is None:
            path = str(Path(database).expanduser())
            self._checkpointer = WalCheckpointer(path, self._write_lock)
            self._checkpointer.start()

    def _autocheckpoint_pages(self) -> int:
        return 0 if self._checkpointer is not None else DEFAULT_AUTOCHECKPOINT

    def dispose(self) -> None:
        if self._write_process is not None:
            self._write_process.stop()
            self._write_process = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


class _Lock(Protocol):
    """The write slot's lock: a context manager that can also be entered ahead of writers that
    are not urgent, or tried without waiting."""

    def enter(self, *, urgent: bool = False) -> None: ...

    def __enter__(self) -> None: ...

    def __exit__(self, *exc: object) -> None: ...

    def try_enter(self) -> bool: ...


class _Unlocked:
    """PostgreSQL's: writers run concurrently and the database locks rows."""

    def enter(self, *, urgent: bool = False) -> None:
        pass

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass

    def try_enter(self) -> bool:
        return True


class _Chained:
    """Enter several locks in order (and leave them in reverse)."""

    def __init__(self, *locks: _Lock) -> None:
        self._locks = locks

    def enter(self, *, urgent: bool = False) -> None:
        entered: list[_Lock] = []
        try:
            for lock in self._locks:
                lock.enter(urgent=urgent)
                entered.append(lock)
        except BaseException:
            for lock in reversed(entered):
                lock.__exit__(None, None, None)
            raise

    def __enter__(self) -> None:
        self.enter()

    def __exit__(self, *exc: object) -> None:
        for lock in reversed(self._locks):
            lock.__exit__(None, None, None)

    def try_enter(self) -> bool:
        """Enter every lock if none is held elsewhere, without waiting; False otherwise."""
        entered: list[_Lock] = []
        for lock in self._locks:
            if not lock.try_enter():
                for held in reversed(entered):
                    held.__exit__(None, None, None)
                return False
            entered.append(lock)
        return True


class _FileLock:
    """An exclusive ``flock`` held while this process writes; the process's other writers wait
    on the thread lock first, so at most one thread per process waits here.

    The lock file stays open between writes (opening it cost more than the lock itself); it is
    reopened in a forked child, whose inherited descriptor would share the parent's lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None
        self._pid = 0

    def enter(self, *, urgent: bool = False) -> None:
        """Processes queue here in no order of urgency: within each, the write slot orders them."""
        self._open()
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def __enter__(self) -> None:
        self.enter()

    def _open(self) -> None:
        if self._handle is None or self._pid != os.getpid():
            self._handle = self.path.open("a")
            self._pid = os.getpid()

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)

    def try_enter(self) -> bool:
        self._open()
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()


class _WriteSlot:
    """A process's write slot: a lock that gives up after a while with an error the client can
    retry on, and that serves urgent writers (a call waits for them) before the others waiting.

    Without the order, a gateway call's budget hold could wait behind the recording of earlier
    calls, then detection, then a job, each a few milliseconds: a call's latency tail."""

    def __init__(self, timeout: float) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._urgent_waiting = 0
        self._timeout = timeout

    def enter(self, *, urgent: bool = False) -> None:
        deadline = time.monotonic() + self._timeout
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._held or (self._urgent_waiting and not urgent):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise DatabaseBusy(self._timeout)
                    self._cond.wait(left)
                self._held = True
            finally:
                if urgent:
                    self._urgent_waiting -= 1

    def __enter__(self) -> None:
        self.enter()

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def try_enter(self) -> bool:
        with self._cond:
            if self._held:
                return False
            self._held = True
            return True
