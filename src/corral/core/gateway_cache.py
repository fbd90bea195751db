"""What the gateway reads on every call and rarely changes, remembered for a moment.

Each call names a project and an agent, is routed to a provider, offered the tools its policy
allows and held on the budgets that apply; reading those rows again for every call is most of the
queries a call makes. They are kept for ``CORRAL_GATEWAY_CACHE_SECONDS``. A change to projects,
agents, memberships, deployments, versions, tool policies, providers or budgets made in this
process clears the cache as soon as it commits (every such change is audited); other replicas see
it when their entries expire. (A tool call the model makes is always decided against the current
policy; the kept one only decides which tools are offered.)

Only what is safe to read slightly late is kept here: budget *terms* (limits, scopes), never
what a budget has spent or holds — counters are always read locked, in the hold's transaction.
Values are loaded in a read transaction of their own, so the rows kept belong to no open session
(nothing a call's transaction does can expire or change them); they are only read. Values
reloaded ahead of their expiry are read together, in one read transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from corral.core.commit_generation import CommitGeneration
from corral.core.lifetime import Lifetime
from corral.core.runtime import Runtime
from corral.db.database import Database

GATEWAY_ACTIONS = (
    "agent.",
    "agent_version.",
    "budget.",
    "deployment.",
    "member.",
    "policy.",
    "project.",
    "provider.",
)
"""Audited actions that can change what the gateway reads through this cache."""
_changes = CommitGeneration(GATEWAY_ACTIONS)

MAX_ENTRIES = 10_000
EXTENSION = "gateway_cache"

T = TypeVar("T")

_lock = threading.Lock()


def forget_gateway_reads_after_commit(uow: Session, action: str) -> None:
    """Called for each audited action: one that touches what the gateway caches empties every
    cache of this process once its transaction commits (not before, or a call could cache the
    old state)."""
    _changes.watch(uow, action)


class NotKept(LookupError):
    """The value is not kept (or no longer fresh), and reading it was not allowed."""


@dataclass(frozen=True)
class _Entry:
    value: Any
    cached_at: datetime
    generation: int


class GatewayCache:
    """Values by key, each loaded once per ``seconds`` (0: never kept).

    Calls read it on the event loop, which must not wait for the database: a value read there
    when :class:`Lifetime` says it is due is marked so, and :meth:`refresh_due` (in a worker
    thread) loads it again ahead of its expiry.
    """

    def __init__(self, db: Database, seconds: float) -> None:
        self._db = db
        self._lifetime = Lifetime(seconds)
        self._entries: dict[Hashable, _Entry] = {}
        self._due: dict[Hashable, Callable[[Session], Any]] = {}
        self._due_lock = threading.Lock()

    def get(
        self,
        key: Hashable,
        load: Callable[[Session], T],
        now: datetime,
        *,
        may_read: bool = True,
    ) -> T:
        """The value kept for ``key``, or ``load(uow)`` in a read transaction, kept for next
        time (a load that raises keeps nothing).

        Raises:
            NotKept: ``may_read`` is False and the value would have to be read (on the event
                loop, which must not wait for the database).
        """
        if not self._lifetime.seconds:
            if not may_read:
                raise NotKept(key)
            return self._load(load)
        entry = self._entries.get(key)
        if entry is not None and entry.generation == _changes.value:
            age = (now - entry.cached_at).total_seconds()
            if not self._lifetime.expired(age):
                if not may_read and self._lifetime.due(age):
                    self._due[key] = load
                return entry.value  # type: ignore[no-any-return]
        if not may_read:
            raise NotKept(key)
        return self._keep(key, load, now)

    @property
    def due(self) -> bool:
        """Whether values are due to be loaded again (:meth:`refresh_due`)."""
        return bool(self._due)

    def refresh_due(self, now: datetime) -> None:
        """Load again the values marked due (in a worker thread). A value that no longer loads
        (its project was deleted, say) is dropped: the next call reads it, and gets the error."""
        with self._due_lock:
            due, self._due = self._due, {}
        generation = _changes.value
        left = list(due.items())
        while left:  # all in one read transaction, unless a load fails
            with self._db.read() as uow:
                while left:
                    key, load = left.pop()
                    try:
                        value = load(uow)
                    except Exception:
                        self._entries.pop(key, None)
                        break  # a failed statement may have ended the transaction
                    self._put(key, value, now, generation)

    def _keep(self, key: Hashable, load: Callable[[Session], T], now: datetime) -> T:
        generation = _changes.value  # read before loading: a change committed meanwhile wins
        value = self._load(load)
        self._put(key, value, now, generation)
        return value

    def _put(self, key: Hashable, value: Any, now: datetime, generation: int) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = _Entry(value, now, generation)

    def _load(self, load: Callable[[Session], T]) -> T:
        with self._db.read() as uow:
            return load(uow)


def gateway_cache(rt: Runtime) -> GatewayCache:
    """The cache of ``rt`` in this process."""
    cache = rt.extensions.get(EXTENSION)
    if cache is None:
        with _lock:
            cache = rt.extensions.setdefault(
                EXTENSION, GatewayCache(rt.db, rt.settings.gateway_cache_seconds)
            )
    assert isinstance(cache, GatewayCache)
    return cache
