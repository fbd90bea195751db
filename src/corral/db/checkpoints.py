"""WAL checkpoints of a SQLite database, off the writers' path.

In WAL mode a commit appends pages to the write-ahead log, and a checkpoint copies them back
into the database file. By default SQLite checkpoints inside the commit that grows the log past
1,000 pages, and Corral's writers hold the database's only write slot until that commit returns:
under a steady ingest load about half of each write went to copying earlier writes.

A server process instead turns automatic checkpoints off for its writes and runs them from a
thread of its own, on its own connection, once writes have added :data:`CHECKPOINT_PAGES` to the
log. A passive checkpoint does
not take the write slot, so writers go on appending meanwhile; it runs in SQLite's C code with the
interpreter lock released, on another core. Should the log still grow past
:data:`RESTART_PAGES` (writers never pausing long enough for a checkpoint to finish), the thread
takes the write slot once and restarts the log, which bounds its size.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
import time
from contextlib import AbstractContextManager
from typing import Any

log = logging.getLogger("corral.db")

INTERVAL_SECONDS = 0.05
"""At most this often: pages written again by consecutive commits are then copied once."""
CHECKPOINT_PAGES = 1_000
"""Pages the log holds beyond what was copied before a checkpoint is worth it (SQLite's own
threshold). Checkpointing a short log costs more than it saves: the first write after a complete
checkpoint starts the log anew and flushes its header to disk, which a commit otherwise need
not do (measured: a small commit took 0.3 to 4 ms instead of 0.05)."""
RESTART_PAGES = 50_000
"""Log size (pages of 4 KiB, about 200 MB) past which the log is restarted under the write slot."""
_INDEX_VERSION = 3007000
_HEADER_BYTES = 100

RESTART_WAIT_MS = 100
"""How long a restart, holding the write slot, waits for readers still using the log before it
gives up until the next checkpoint."""


class WalCheckpointer:
    """Checkpoints the SQLite file at ``path`` after writes, from a thread of its own."""

    def __init__(self, path: str, write_lock: AbstractContextManager[Any]) -> None:
        self._path = path
        self._write_lock = write_lock
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.wakeups = 0
        self.checkpoints = 0
        self.restarts = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="corral-checkpoints", daemon=True)
        self._thread.start()

    def after_write(self) -> None:
        """A write committed: checkpoint soon."""
        self._wanted.set()

    def _uncopied_pages(self) -> int:
        """Pages in the log not copied into the database yet, read from the header of the
        WAL index (the ``-shm`` file, whose layout SQLite documents: ``mxFrame`` at byte 16,
        ``nBackfill`` at byte 96); as many as the threshold when it cannot be read."""
        try:
            with open(self._path + "-shm", "rb") as index:
                header = index.read(_HEADER_BYTES)
            version, frames = struct.unpack_from("=I12xI", header, 0)
            (copied,) = struct.unpack_from("=I", header, 96)
        except (OSError, struct.error):
            return CHECKPOINT_PAGES
        if version != _INDEX_VERSION:
            return CHECKPOINT_PAGES
        return max(0, int(frames) - int(copied))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop, after a last checkpoint of everything written."""
        self._stopping = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            while True:
                self._wanted.wait()
                self._wanted.clear()
                stopping = self._stopping
                self.wakeups += 1
                try:
                    self._checkpoint(connection, always=stopping)
                except Exception:  # the next write asks again; writers never wait for this
                    log.exception("WAL checkpoint of %s failed", self._path)
                if stopping:
                    return
                # Let commits gather: a page written by several of them is copied once.
                time.sleep(INTERVAL_SECONDS)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection, *, always: bool = False) -> None:
        if not always and self._uncopied_pages() < CHECKPOINT_PAGES:
            return
        _busy, pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if pages > RESTART_PAGES and copied < pages:
            with self._write_lock:
                busy, _, _ = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.restarts += not busy
