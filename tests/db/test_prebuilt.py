"""Prebuilt statements find rows by many keys alike on both databases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import String, insert, select

from corral.db import Database
from corral.db.prebuilt import ByKeys, Driver, Prebuilt, rows_of
from corral.db.schema import BudgetReservationRow, ProjectRow

BY_NAME = ByKeys(
    lambda match: (
        select(ProjectRow.name, ProjectRow.created_at).where(match).order_by(ProjectRow.name)
    ),
    ProjectRow.name,
    String(),
)
_PROJECT_COLUMNS = ("name", "description", "retention_days", "created_at", "last_active_at")
_INSERT_PROJECT = Prebuilt(insert(ProjectRow).inline(), _PROJECT_COLUMNS)


def test_rows_by_keys_come_back_for_every_key_and_none_for_no_key(database_url: str) -> None:
    db = Database(database_url)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with db.write() as uow:
            for name in ("a", "b", "c"):
                uow.add(
                    ProjectRow(name=name, description="", created_at=moment, last_active_at=moment)
                )
            uow.flush()
            driver = Driver.of(uow.connection())
            with driver.pipeline():
                found = BY_NAME.rows(driver, ["a", "c", "missing"])
                assert BY_NAME.send(driver, []) == []
            assert sorted(found) == [("a", moment), ("c", moment)]  # converted as the ORM does
    finally:
        db.dispose()


AWKWARD = "it's 100% ';\\ DROP TABLE projects; -- %(name)s $1 \u00e9\u2603 \"q\""
"""Quotes, a backslash, percent signs, placeholders and non-ASCII: sent together on PostgreSQL,
statements carry their values as literals, which must come back exactly as given."""


def test_values_sent_together_come_back_exactly_as_given(database_url: str) -> None:
    db = Database(database_url)
    moment = datetime(2026, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)
    reservation = {
        "id": "r1",
        "status": "held",
        "holds": [{"budget_id": 1, "amount": 2**62, "note": AWKWARD}],
        "estimated_nano_usd": -(2**62),
        "estimated_tokens": 0,
        "context": {"user": AWKWARD, "session": None, "nested": {"x": [1.5, True]}},
        "created_at": moment,
        "expires_at": moment + timedelta(minutes=15),
    }
    columns = BudgetReservationRow.__table__.c
    insert_reservation = Prebuilt(insert(BudgetReservationRow), list(reservation))
    select_reservation = Prebuilt(select(*(columns[name] for name in reservation)))
    try:
        with db.write() as uow:
            driver = Driver.of(uow.connection())
            with driver.pipeline():
                driver.send_many(
                    _INSERT_PROJECT,
                    [
                        {
                            "name": name,
                            "description": AWKWARD,
                            "retention_days": None,
                            "created_at": moment,
                            "last_active_at": moment,
                        }
                        for name in ("plain", AWKWARD[:63])
                    ],
                )
                driver.send_many(insert_reservation, [reservation])
                by_name = BY_NAME.send(driver, [AWKWARD[:63], "missing"])
                stored = driver.send(select_reservation, {})
                assert rows_of(by_name) == [(AWKWARD[:63], moment)]
                assert stored.rows() == [tuple(reservation.values())]
        with db.read() as uow:
            project = uow.scalars(select(ProjectRow).where(ProjectRow.name == AWKWARD[:63])).one()
            assert (project.description, project.retention_days) == (AWKWARD, None)
            assert project.created_at == moment
    finally:
        db.dispose()


def test_a_statement_that_fails_rolls_back_what_was_sent_with_it(database_url: str) -> None:
    db = Database(database_url)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    row = {
        "name": "twice",
        "description": "",
        "retention_days": None,
        "created_at": moment,
        "last_active_at": moment,
    }

    def insert_twice() -> None:
        with db.write() as uow:
            driver = Driver.of(uow.connection())
            with driver.pipeline():
                driver.send_many(_INSERT_PROJECT, [{**row, "name": "first"}, row, row])

    try:
        with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
            insert_twice()
        with db.read() as uow:
            assert uow.scalars(select(ProjectRow.name)).all() == []
    finally:
        db.dispose()
