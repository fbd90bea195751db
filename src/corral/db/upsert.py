"""Dialect-specific INSERT variants, behind one signature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(uow: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows``, skipping any that collide with a unique key. Returns rows inserted."""
    if not rows:
        return 0
    dialect = uow.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(list(rows)).on_conflict_do_nothing()
    result = uow.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
