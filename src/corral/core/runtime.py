"""What every service needs: the database, the clock and the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from corral.core.clock import Clock, SystemClock
from corral.db.database import Database
from corral.settings import Settings

if TYPE_CHECKING:
    from corral.core.span_store import StoredBatch


@dataclass
class Runtime:
    """The application core of one server process. Interfaces (REST, MCP, CLI) hold one and
    pass it to the service functions; nothing in ``core`` reaches for globals."""

    db: Database
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    span_listeners: list[Callable[[StoredBatch], None]] = field(default_factory=list)
    """Called with the spans of each committed ingest batch (detectors subscribe here)."""
    extensions: dict[str, Any] = field(default_factory=dict)
    """Per-runtime shared objects that services create on first use (e.g. the group committer)."""

    @cached_property
    def master_secret(self) -> bytes:
        """The secret every derived key comes from (see :mod:`corral.core.secrets`)."""
        from corral.core.secrets import load_master_secret

        return load_master_secret(self.settings)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> Runtime:
        db = Database(
            settings.resolved_database_url(),
            pool_size=settings.db_pool_size,
            sqlite_synchronous=settings.sqlite_synchronous,
        )
        return cls(db=db, settings=settings, clock=clock or SystemClock())
