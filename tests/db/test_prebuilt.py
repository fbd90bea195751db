"""Prebuilt statements find rows by many keys alike on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String, select

from corral.db import Database
from corral.db.prebuilt import ByKeys, Driver
from corral.db.schema import ProjectRow


def test_rows_by_keys_come_back_for_every_key_and_none_for_no_key(database_url: str) -> None:
    db = Database(database_url)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    by_name = ByKeys(
        lambda match: (
            select(ProjectRow.name, ProjectRow.created_at).where(match).order_by(ProjectRow.name)
        ),
        ProjectRow.name,
        String(),
    )
    try:
        with db.write() as uow:
            for name in ("a", "b", "c"):
                uow.add(
                    ProjectRow(name=name, description="", created_at=moment, last_active_at=moment)
                )
            uow.flush()
            driver = Driver.of(uow.connection())
            with driver.pipeline():
                found = by_name.rows(driver, ["a", "c", "missing"])
                assert by_name.send(driver, []) == []
            assert sorted(found) == [("a", moment), ("c", moment)]  # converted as the ORM does
    finally:
        db.dispose()
