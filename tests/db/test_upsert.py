"""The dialect-specific insert helpers behave the same on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table

from corral.db import Database
from corral.db.schema import ProjectRow
from corral.db.upsert import insert_ignoring_conflicts


def test_insert_ignoring_conflicts_counts_what_it_inserted(database_url: str) -> None:
    db = Database(database_url)
    table: Table = ProjectRow.__table__  # type: ignore[assignment]
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    row = {"name": "p", "description": "", "created_at": moment, "last_active_at": moment}
    try:
        with db.write() as uow:
            assert insert_ignoring_conflicts(uow, table, [row]) == 1
            assert insert_ignoring_conflicts(uow, table, [row, {**row, "name": "q"}]) == 1
            assert insert_ignoring_conflicts(uow, table, [row]) == 0
    finally:
        db.dispose()
