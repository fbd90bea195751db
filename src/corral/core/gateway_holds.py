"""The gateway's budget holds, taken by one thread per process on a connection of its own.

A call's hold is a few statements and a commit: far less work than handing it to a worker
thread of the pool, opening a session and a transaction for it, and handing the answer back. So
the event loop queues each call's :class:`~corral.core.budget_holds.HoldRequest` here and awaits
it; one thread takes every request queued, holds them all in one transaction (one commit, one
disk flush, on PostgreSQL two round trips), and hands each call its answer. Under load the calls
that arrive while a transaction runs share the next one, so the holds keep up with the calls
instead of queueing for the database one by one.

The thread keeps its connection between transactions (no pool checkout, no liveness ping per
call); a connection that breaks is dropped and a new one taken for the next transaction. On
SQLite the thread takes the database's write slot as an urgent writer, ahead of this process's
writers that record calls, judge sessions or run jobs, for which no call waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import PoolProxiedConnection

from corral.core.budget_holds import Held, HoldRequest, hold_many
from corral.core.runtime import Runtime
from corral.db.database import Database
from corral.db.prebuilt import Driver

log = logging.getLogger("corral.gateway")

EXTENSION = "gateway_holds"
MAX_BATCH = 64
"""Holds taken in one transaction at most."""

Answer = Held | Exception
Deliver = Callable[[Answer], None]


@dataclass(frozen=True)
class _Queued:
    request: HoldRequest
    deliver: Deliver


class HoldWriter:
    """Takes the holds queued by calls, several per transaction, from one thread."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.transactions = 0
        self._queue: list[_Queued] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._connection: PoolProxiedConnection | None = None
        self._connection_now: PoolProxiedConnection | None = None
        """The event loop's, for holds taken there (see :meth:`_hold_now`)."""
        self._thread = threading.Thread(target=self._work, name="corral-gateway-holds", daemon=True)
        self._thread.start()

    async def hold(self, request: HoldRequest) -> Held:
        """Hold ``request`` and return the hold, or raise why it was refused.

        If the waiting call is cancelled (its client hung up), a hold taken meanwhile is
        released, not left to expire.
        """
        answer = self._hold_now(request)
        if answer is None:
            answer = await self._hold_queued(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _hold_now(self, request: HoldRequest) -> Answer | None:
        """On SQLite, when no one writes or waits to: the hold right here on the event loop, a
        fraction of a millisecond — the trips to the thread and back cost more. None when the
        write slot is taken (the call must not wait for it on the event loop)."""
        db = self.rt.db
        if not db.single_writer or self._queue:
            return None
        if self._connection_now is None:
            self._connection_now = db.engine.raw_connection()
        try:
            with db.driver_write_now(self._connection_now, durable=False) as connection:
                if connection is None:
                    return None
                driver = Driver(connection, db.engine.dialect)
                (answer,) = hold_many(driver, [request], self.rt.clock.now())
            return answer
        except Exception as exc:
            log.warning("holding a gateway call failed: %s", exc)
            self._connection_now.invalidate()
            self._connection_now = None
            return exc

    async def _hold_queued(self, request: HoldRequest) -> Answer:
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        handoff = _Handoff()

        def deliver(answer: Answer) -> None:
            if not handoff.give(answer):  # the call left: nobody will take it
                _release_if_held(answer, self._release)
                return
            # A closed event loop has cancelled the call, which then took the answer to release.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, answered)

        self.submit(request, deliver)
        try:
            await answered
        except asyncio.CancelledError:
            # The call left (its client hung up): an answer given meanwhile is released here,
            # one given later by the writer's thread.
            _release_if_held(handoff.leave(), self._release)
            raise
        answer = handoff.take()
        assert answer is not None
        return answer

    def submit(self, request: HoldRequest, deliver: Deliver) -> None:
        """Queue ``request``; ``deliver`` is called from the writer's thread with the answer."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the gateway's hold writer has stopped")
            self._queue.append(_Queued(request, deliver))
            self._cond.notify()

    def stop(self, timeout: float = 30.0) -> None:
        """Answer what is queued, then stop and give the connection back."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    def _work(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._stopping:
                        self._cond.wait()
                    if not self._queue:
                        return
                    batch = self._queue[:MAX_BATCH]
                    del self._queue[:MAX_BATCH]
                answers = self._hold_all([q.request for q in batch])
                for queued, answer in zip(batch, answers, strict=True):
                    try:
                        queued.deliver(answer)
                    except Exception:
                        log.exception("answering a gateway call's hold failed")
        finally:
            self._close()

    def _hold_all(self, requests: list[HoldRequest]) -> list[Answer]:
        """Hold ``requests`` in one transaction; if the transaction fails, each gets the error."""
        self.transactions += 1
        try:
            return self._transaction(requests)
        except Exception as exc:
            log.warning("holding %d gateway calls failed: %s", len(requests), exc)
            return [exc] * len(requests)

    def _transaction(self, requests: list[HoldRequest]) -> list[Answer]:
        db = self.rt.db
        if self._connection is None:
            self._connection = hold_connection(db)
        driver = Driver(self._connection.driver_connection, db.engine.dialect)
        now = self.rt.clock.now()
        try:
            with hold_transaction(db, self._connection, driver):
                answers: list[Answer] = list(hold_many(driver, requests, now))
            return answers
        except Exception:
            self._recover()
            raise

    def _recover(self) -> None:
        """After a failed transaction: roll back, or drop a connection that broke."""
        connection = self._connection
        if connection is None:
            return
        try:
            connection.driver_connection.rollback()  # type: ignore[union-attr]
        except Exception:
            self._connection = None
            connection.invalidate()

    def _close(self) -> None:
        if self._connection is not None:
            give_back_hold_connection(self._connection)
        if self._connection_now is not None:
            self._connection_now.close()
        self._connection = self._connection_now = None

    def _release(self, held: Held) -> None:
        from corral.core.budgets import settle

        def release() -> None:
            try:
                with self.rt.db.write() as uow:
                    settle(uow, held.id, None, now=self.rt.clock.now())
            except Exception:
                log.exception("releasing the hold of a call whose client left failed")

        threading.Thread(target=release, name="corral-gateway-release", daemon=True).start()


def hold_connection(db: Database) -> PoolProxiedConnection:
    """A pooled connection for :func:`hold_transaction`; give it back with
    :func:`give_back_hold_connection`."""
    connection = db.engine.raw_connection()
    if not db.single_writer:
        # The transaction's BEGIN goes out with its first statements, not in a round trip of
        # its own, as psycopg would send it.
        connection.driver_connection.autocommit = True  # type: ignore[union-attr]
    return connection


def give_back_hold_connection(connection: PoolProxiedConnection) -> None:
    """Return a connection of :func:`hold_connection` to the pool as it was taken."""
    driver = connection.driver_connection
    if driver is not None and getattr(driver, "autocommit", False):
        try:
            driver.autocommit = False
        except Exception:  # broken or mid-transaction: not fit for the pool
            connection.invalidate()
            return
    connection.close()


@contextmanager
def hold_transaction(
    db: Database, connection: PoolProxiedConnection, driver: Driver
) -> Iterator[None]:
    """One transaction of holds, on a connection of :func:`hold_connection` (``driver`` is its
    driver's). It commits at the end of the block; the caller rolls back on an error.

    Holds are committed without waiting for the disk flush. A hold only matters while its call
    runs, and a crash of the machine ends the call: a hold lost with it frees the budget as its
    expiry would. The call's settlement, durable, is written after its hold, so flushing the
    settlement flushes the hold too.

    On SQLite it takes the write slot as an urgent writer. On PostgreSQL its statements go out
    in two round trips (the locked reads, then the writes with the commit)."""
    if db.single_writer:
        with db.driver_write(connection, durable=False, urgent=True):
            yield
        return
    with driver.pipeline():
        driver.command("BEGIN")
        driver.command("SET LOCAL synchronous_commit TO OFF")
        yield
        driver.command("COMMIT")


class _Handoff:
    """A hold's answer, passed from the writer's thread to the call waiting for it — or, if the
    call left, released: by the call if the answer came first, else by the thread. Either way
    exactly once, whether or not the event loop still runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answer: Answer | None = None
        self._left = False

    def give(self, answer: Answer) -> bool:
        """From the writer's thread; False if the call left (the caller releases the hold)."""
        with self._lock:
            if self._left:
                return False
            self._answer = answer
            return True

    def take(self) -> Answer | None:
        with self._lock:
            answer, self._answer = self._answer, None
            return answer

    def leave(self) -> Answer | None:
        """The call left: the answer given meanwhile, if any, for it to release."""
        with self._lock:
            self._left = True
            answer, self._answer = self._answer, None
            return answer


def _wake(answered: asyncio.Future[None]) -> None:
    if not answered.done():
        answered.set_result(None)


def _release_if_held(answer: Answer | None, release: Callable[[Held], None]) -> None:
    if isinstance(answer, Held):
        release(answer)


def hold_writer(rt: Runtime) -> HoldWriter:
    """The hold writer of ``rt`` in this process (started on first use)."""
    writer = rt.extensions.get(EXTENSION)
    if writer is None:
        with _lock:
            writer = rt.extensions.get(EXTENSION)
            if writer is None:
                writer = rt.extensions[EXTENSION] = HoldWriter(rt)
    assert isinstance(writer, HoldWriter)
    return writer


def stop_hold_writer(rt: Runtime) -> None:
    """Stop the hold writer of ``rt``, if one runs (at shutdown)."""
    writer: Any = rt.extensions.pop(EXTENSION, None)
    if isinstance(writer, HoldWriter):
        writer.stop()


_lock = threading.Lock()
