"""Who an API key is, remembered for a moment.

Every request authenticates its key; reading the key, its projects and its owner's roles is
several queries, paid again by each of an agent's calls. The answer is kept for
``CORRAL_AUTH_CACHE_SECONDS``. A change to keys, users, agents, projects or memberships made in
this process clears it as soon as it commits; other replicas see it when their entry expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.commit_generation import CommitGeneration
from corral.core.lifetime import Lifetime

PRINCIPAL_ACTIONS = ("agent.", "agent_version.", "api_key.", "member.", "project.", "user.")
"""Audited actions that can change what a key's principal may do."""
_changes = CommitGeneration(PRINCIPAL_ACTIONS)

MAX_ENTRIES = 10_000


def forget_principals_after_commit(uow: Session, action: str) -> None:
    """Called for each audited action: one that touches principals empties every cache of this
    process once its transaction commits (not before, or a reader could cache the old state)."""
    _changes.watch(uow, action)


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    expires_at: datetime | None
    cached_at: datetime
    generation: int


class PrincipalCache:
    def __init__(self, seconds: float) -> None:
        self._lifetime = Lifetime(seconds)
        self._entries: dict[tuple[str, str], _Entry] = {}

    def get(self, public_id: str, secret_hash: str, now: datetime) -> Principal | None:
        if self._lifetime.seconds <= 0:
            return None
        entry = self._entries.get((public_id, secret_hash))
        if entry is None:
            return None
        if (
            entry.generation != _changes.value
            or self._lifetime.expired((now - entry.cached_at).total_seconds())
            or (entry.expires_at is not None and entry.expires_at <= now)
        ):
            self._entries.pop((public_id, secret_hash), None)
            return None
        return entry.principal

    def due(self, public_id: str, secret_hash: str, now: datetime) -> bool:
        """Whether a kept principal is to be loaded again ahead (see :class:`Lifetime`), so that
        a key used steadily is never found expired."""
        entry = self._entries.get((public_id, secret_hash))
        return entry is not None and self._lifetime.due((now - entry.cached_at).total_seconds())

    def forget(self, public_id: str, secret_hash: str) -> None:
        self._entries.pop((public_id, secret_hash), None)

    def put(
        self,
        public_id: str,
        secret_hash: str,
        principal: Principal,
        expires_at: datetime | None,
        generation: int,
        now: datetime,
    ) -> None:
        if self._lifetime.seconds <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[(public_id, secret_hash)] = _Entry(principal, expires_at, now, generation)


def current_generation() -> int:
    """Read before loading a principal, so that a change committed meanwhile invalidates it."""
    return _changes.value
