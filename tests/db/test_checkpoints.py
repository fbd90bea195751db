from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from corral.db import Database, checkpoints


def _write_rows(db: Database, count: int) -> None:
    for number in range(count):
        with db.write() as uow:
            uow.execute(text("INSERT INTO filler (body) VALUES (:body)"), {"body": "x" * 3000})
            del number


def _wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the checkpoint thread did not get there"
        time.sleep(0.01)


def _wal_state(path: Path) -> tuple[int, int]:
    """(pages in the log, pages copied into the database file), without checkpointing: a
    NOOP checkpoint only reports."""
    connection = sqlite3.connect(path)
    try:
        _, pages, copied = connection.execute("PRAGMA wal_checkpoint(NOOP)").fetchone()
    finally:
        connection.close()
    return pages, copied


def _fully_copied(path: Path) -> bool:
    pages, copied = _wal_state(path)
    return pages == copied


def _writers_blocked(path: Path) -> bool:
    """Whether a writer is refused at once: a pending restart blocks new writers."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    with database.write() as uow:
        uow.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)"))
    return database


def test_a_server_process_checkpoints_outside_its_commits(db: Database, tmp_path: Path) -> None:
    db.start_background_checkpoints()
    with db.write() as uow:
        assert uow.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
    checkpointer = db._checkpointer
    assert checkpointer is not None
    _write_rows(db, 400)  # about 1,200 pages: past SQLite's own threshold of 1,000
    # The count goes up once the thread has the interpreter back, which may be after the log
    # is already copied: wait for both.
    _wait_for(lambda: checkpointer.checkpoints > 0 and _fully_copied(tmp_path / "c.db"))
    db.dispose()


def test_a_short_log_waits_for_more_writes(db: Database) -> None:
    db.start_background_checkpoints()
    checkpointer = db._checkpointer
    assert checkpointer is not None
    _write_rows(db, 5)
    _wait_for(lambda: checkpointer.wakeups > 0)
    assert checkpointer.checkpoints == 0  # the next write would start the log anew, and sync it
    db.dispose()


def test_other_processes_keep_sqlite_checkpointing_in_commits(db: Database) -> None:
    with db.write() as uow:
        assert uow.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    db.dispose()


def test_a_log_that_outgrows_its_bound_is_restarted(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "RESTART_PAGES", 10)
    monkeypatch.setattr(checkpoints, "CHECKPOINT_PAGES", 10)
    path = tmp_path / "c.db"
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM filler").fetchone()  # a snapshot from before the writes
    _write_rows(db, 50)
    checkpointer = checkpoints.WalCheckpointer(str(path), db._write_lock)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=60000")
    # The passive checkpoint cannot copy what the reader's snapshot predates, so the restart
    # waits, holding the write slot and the checkpoint lock, for the reader to finish.
    running = threading.Thread(target=checkpointer._checkpoint, args=(connection,))
    running.start()
    _wait_for(lambda: _writers_blocked(path))  # the restart is pending
    assert checkpointer.restarts == 0
    reader.execute("COMMIT")
    reader.close()
    running.join(30)
    connection.close()
    assert checkpointer.restarts == 1
    _write_rows(db, 1)  # the first write after a restart begins the log again
    pages, _ = _wal_state(path)
    assert 0 < pages < 10
    db.dispose()
