"""Leadership for background jobs: only one process runs a given job at a time.

PostgreSQL: a session advisory lock, so replicas on different machines exclude each other.
SQLite: an exclusive file lock next to the database, so worker processes on the one machine that
can reach the file exclude each other.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from corral.db.database import Database


def _lock_id(name: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"corral-job:{name}".encode()).digest()[:8], "big", signed=True
    )


@contextmanager
def lead(db: Database, name: str) -> Iterator[bool]:
    """Try to become the leader for ``name``; yields whether this process leads. Never waits."""
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            got = bool(
                connection.execute(
                    text("SELECT pg_try_advisory_lock(:id)"), {"id": _lock_id(name)}
                ).scalar()
            )
            try:
                yield got
            finally:
                if got:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:id)"), {"id": _lock_id(name)}
                    )
                connection.rollback()
        return
    database = db.url.database or ""
    lock_dir = Path(database).expanduser().parent if database and database != ":memory:" else None
    if lock_dir is None:
        yield True
        return
    path = lock_dir / f".corral-job-{name}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
