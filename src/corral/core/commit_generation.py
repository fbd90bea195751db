"""A counter that moves when a committed change may have made cached reads stale.

Caches of this process store the counter's value with each entry and drop entries whose value
is no longer current. Audited actions name what they change; a transaction holding one that a
counter watches moves it once the transaction commits, not before, or a reader could cache the
old state again in between.
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session


class CommitGeneration:
    """Moves after the commit of any transaction holding an action that starts with one of
    ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        """Read before loading what is to be cached: a change committed meanwhile wins."""
        return self._value

    def watch(self, uow: Session, action: str) -> None:
        """Called for each audited action of ``uow``."""
        if action.startswith(self.prefixes):
            event.listen(uow, "after_commit", self._advance, once=True)

    def _advance(self, _session: Session) -> None:
        with self._lock:
            self._value += 1
