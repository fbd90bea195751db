"""Group commit: concurrent writers share one transaction and one durable commit.

A durable commit costs a disk flush (milliseconds), whatever it holds. When several ingest
requests arrive together, the first to get the database writes its own work and that of every
request waiting behind it, commits once, and hands each its result; a request whose work failed
gets its own error (each piece runs inside a savepoint) while the others still commit.

SQLite writes one transaction at a time. PostgreSQL runs :data:`POSTGRESQL_TRANSACTIONS` of them
at once: its server then works on one while another waits for its flush, on every core it has
(measured: an ingest load stored one and a half to two times as many spans per second).
Work deferred to just before a commit runs in one order whatever the pieces sharing the
transaction (see :func:`defer_before_commit`), so concurrent transactions lock rows in one order
and cannot deadlock one another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from corral.core.runtime import Runtime

T = TypeVar("T")

Work = Callable[[Session, datetime], T]


@dataclass
class _Pending(Generic[T]):
    work: Work[T]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class GroupCommitter:
    """Runs pieces of write work, several per transaction when they arrive together."""

    def __init__(
        self, rt: Runtime, *, max_group: int = 16, durable: bool = True, transactions: int = 1
    ) -> None:
        self._rt = rt
        self._max_group = max_group
        self._durable = durable
        self._queue: list[_Pending[Any]] = []
        self._queue_lock = threading.Lock()
        # Each transaction under way has a leader: the writer that runs it for its group.
        self._leader = threading.BoundedSemaphore(transactions)

    @property
    def waiting(self) -> int:
        """Pieces of work queued for the next transaction."""
        return len(self._queue)

    def run(self, work: Work[T]) -> T:
        """Run ``work(uow, now)`` in a write transaction; return once it is committed."""
        pending: _Pending[T] = _Pending(work)
        with self._queue_lock:
            self._queue.append(pending)
        while not pending.done.is_set():
            with self._leader:
                if pending.done.is_set():
                    break
                with self._queue_lock:
                    group = self._queue[: self._max_group]
                    del self._queue[: len(group)]
                self._commit(group)
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[no-any-return]

    def _commit(self, group: list[_Pending[Any]]) -> None:
        try:
            with self._rt.db.write(durable=self._durable) as uow:
                now = self._rt.clock.now()
                if len(group) == 1:
                    # Alone in its transaction, a piece needs no savepoint: if it fails, the
                    # transaction rolls back with it (two statements fewer for the writer).
                    (pending,) = group
                    try:
                        pending.result = pending.work(uow, now)
                    except Exception as exc:
                        pending.error = exc
                        raise
                else:
                    for pending in group:
                        try:
                            with uow.begin_nested():
                                pending.result = pending.work(uow, now)
                        except Exception as exc:  # this piece fails alone; the others go on
                            pending.error = exc
                deferred = uow.info.pop(_BEFORE_COMMIT, {})
                for name in sorted(deferred, key=BEFORE_COMMIT_ORDER.index):
                    finish, items = deferred[name]
                    finish(uow, items)
        except BaseException as exc:  # the commit itself failed: nothing in the group is stored
            for pending in group:
                if pending.error is None:
                    pending.error = exc
        finally:
            for pending in group:
                pending.done.set()


_lock = threading.Lock()
_BEFORE_COMMIT = "corral_before_commit"
BEFORE_COMMIT_ORDER = ("span_rollups", "budget_settlements")
"""The work :func:`defer_before_commit` takes, in the order it runs, whoever deferred first:
transactions then lock rows in one order. Budget counters come last, just before the commit,
since every gateway call's hold waits for their locks."""

POSTGRESQL_TRANSACTIONS = 4
"""Transactions a committer runs at once on PostgreSQL, each on a pooled connection (no more
than the pool keeps)."""


def defer_before_commit(
    uow: Session, name: str, finish: Callable[[Session, list[Any]], None], items: list[Any]
) -> None:
    """Add ``items`` for ``finish(uow, all_items)``, called once just before the group's commit
    with the items of every piece that succeeded, in the order of :data:`BEFORE_COMMIT_ORDER`.

    Call it last in a piece: items added by a piece that then fails would still be finished.
    """
    pending = uow.info.setdefault(_BEFORE_COMMIT, {})
    pending.setdefault(name, (finish, []))[1].extend(items)


def write_shared(rt: Runtime, work: Work[T], *, durable: bool = True) -> T:
    """Run ``work(uow, now)`` in a write transaction, shared with concurrent writers where the
    database has one writer at a time; in a transaction of its own elsewhere (PostgreSQL runs
    writers concurrently, and pieces locking rows in different orders in one shared transaction
    could deadlock with another replica's). ``durable`` as in :meth:`Database.write`."""
    if rt.db.single_writer:
        return group_committer(rt, durable=durable).run(work)
    with rt.db.write(durable=durable) as uow:
        return work(uow, rt.clock.now())


def writers_waiting(rt: Runtime) -> bool:
    """Whether writers of this process are queued for the database (ingest under load): in the
    shared transaction's queue, or for the write slot itself (which another worker process on
    the same SQLite file may hold)."""
    return rt.db.writers_waiting or any(
        isinstance(committer, GroupCommitter) and committer.waiting > 0
        for committer in (rt.extensions.get(name) for name in ("group_commit", "group_commit_lazy"))
    )


def group_committer(rt: Runtime, *, durable: bool = True) -> GroupCommitter:
    """The committer shared by every writer of ``rt``'s database in this process (one for
    durable commits, one for commits that do not wait for the disk)."""
    name = "group_commit" if durable else "group_commit_lazy"
    committer = rt.extensions.get(name)
    if committer is None:
        with _lock:
            transactions = (
                1 if rt.db.single_writer else min(POSTGRESQL_TRANSACTIONS, rt.settings.db_pool_size)
            )
            committer = rt.extensions.setdefault(
                name, GroupCommitter(rt, durable=durable, transactions=transactions)
            )
    assert isinstance(committer, GroupCommitter)
    return committer
