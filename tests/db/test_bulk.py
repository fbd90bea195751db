"""The bulk insert writes exactly what SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.dialects import sqlite

from corral.db.bulk import _sqlite_utc
from corral.db.types import UtcDateTime


def test_fast_sqlite_timestamps_match_the_column_type() -> None:
    dialect = sqlite.dialect()
    reference = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert reference is not None
    for moment in (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 6, 7, 891, tzinfo=UTC),
        datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ):
        assert _sqlite_utc(moment) == reference(moment)
