"""How long a value read from the database is kept, and when it is read again.

The gateway serves calls on the event loop, which must never wait for the database: what calls
keep reading (keys, agents, budgets, price overrides) is kept for a while and read again *ahead*,
once past half its time, by a worker thread. Calls arriving steadily then never find it expired,
and it is never kept longer than its time either way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lifetime:
    """A kept value's time, in seconds (0: never kept)."""

    seconds: float

    def expired(self, age: float) -> bool:
        """Whether a value ``age`` seconds old must be read again before use."""
        return age >= self.seconds

    def due(self, age: float) -> bool:
        """Whether a value ``age`` seconds old is to be read again ahead, while still in use."""
        return age >= self.seconds / 2
