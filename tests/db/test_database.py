from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from corral.db import Database
from corral.db.schema import ProjectRow
from corral.errors import InvalidRequest


def test_sqlite_is_configured_for_a_server(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'c.db'}")
    with db.read() as uow:
        assert uow.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert uow.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert uow.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert uow.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    db.dispose()


def test_unsupported_database_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequest) as err:
        Database("mysql://localhost/x")
    assert err.value.code == "unsupported_database"


def test_timestamps_come_back_aware_and_equal(database_url: str) -> None:
    db = Database(database_url)
    moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with db.write() as uow:
        uow.add(ProjectRow(name="tz", description="", created_at=moment, last_active_at=moment))
    with db.read() as uow:
        row = uow.scalars(select(ProjectRow).where(ProjectRow.name == "tz")).one()
    assert row.created_at == moment
    assert row.created_at.tzinfo == UTC
    db.dispose()


def test_naive_timestamps_are_refused(database_url: str) -> None:
    db = Database(database_url)
    naive = datetime(2026, 1, 1)
    row = ProjectRow(name="naive", description="", created_at=naive, last_active_at=naive)
    with db.write() as uow:
        uow.add(row)
        with pytest.raises(Exception, match="timezone-aware"):
            uow.flush()
        uow.rollback()
    db.dispose()


def test_failed_write_commits_nothing(database_url: str) -> None:
    db = Database(database_url)
    now = datetime.now(UTC)

    def write_then_fail() -> None:
        with db.write() as uow:
            uow.add(ProjectRow(name="lost", description="", created_at=now, last_active_at=now))
            uow.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with db.read() as uow:
        assert uow.scalars(select(ProjectRow).where(ProjectRow.name == "lost")).first() is None
    db.dispose()


def test_a_writer_waiting_for_the_write_slot_is_visible(tmp_path: Path) -> None:
    import threading
    import time

    db = Database(f"sqlite:///{tmp_path / 'c.db'}")

    def write() -> None:
        with db.write():
            pass

    with db.write():
        assert not db.writers_waiting
        waiting = threading.Thread(target=write)
        waiting.start()
        deadline = time.monotonic() + 30
        while not db.writers_waiting:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    waiting.join(30)
    assert not db.writers_waiting
    db.dispose()


def test_an_urgent_writer_takes_the_write_slot_before_others_waiting(tmp_path: Path) -> None:
    """Each round, a writer that is not urgent begins to wait first; the urgent one still writes
    first. Without the order, which of two waiting threads gets a released lock is a coin toss."""
    import threading
    import time

    from corral.db import database

    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    slot = db._write_lock._locks[0]  # the process's lock, taken before the file's
    assert isinstance(slot, database._WriteSlot)
    order: list[str] = []

    def write(name: str, urgent: bool) -> None:
        with db.write(urgent=urgent):
            order.append(name)

    def wait_until(ready: Any) -> None:
        deadline = time.monotonic() + 30
        while not ready():
            assert time.monotonic() < deadline
            time.sleep(0.001)

    for _ in range(10):
        order.clear()
        with db.write():
            background = threading.Thread(target=write, args=("background", False))
            background.start()
            wait_until(lambda: db._slot_waiters == 1)
            urgent = threading.Thread(target=write, args=("urgent", True))
            urgent.start()
            wait_until(lambda: slot._urgent_waiting == 1)
        background.join(30)
        urgent.join(30)
        assert order == ["urgent", "background"]
    db.dispose()


def test_a_writer_gives_up_on_a_write_slot_held_too_long() -> None:
    import threading

    from corral.db import database
    from corral.errors import DatabaseBusy

    slot = database._WriteSlot(0.05)
    slot.enter()
    failures: list[BaseException] = []

    def wait(urgent: bool) -> None:
        try:
            slot.enter(urgent=urgent)
        except DatabaseBusy as exc:
            failures.append(exc)

    waiters = [threading.Thread(target=wait, args=(urgent,)) for urgent in (True, False)]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join(30)
    assert len(failures) == 2
    slot.__exit__(None, None, None)
    assert slot.try_enter()  # a writer that gave up left no claim behind
