"""Holding a call's worst case on every budget that applies: the reservation rule.

The counters of each applicable budget's current window are read locked (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite has one writer at a time), the call is refused if what is spent,
what is held for calls in flight and its own worst case would cross a hard limit, and otherwise
its worst case is added to the current bucket's ``reserved`` and a reservation row records what
was held where. Concurrent calls therefore see each other's holds, and no number of replicas can
overshoot a limit.

Several calls can be held in one transaction (the gateway holds calls that arrive together at
once): each is decided in turn against what the ones before it held, and a refused call writes
nothing, so no savepoint is needed. Every counter is locked in one order — budget, then counter
id, as settlements lock them — so transactions on different replicas cannot deadlock.

The statements are built once and run on the driver's connection (:mod:`corral.db.prebuilt`):
this runs before every gateway call. On PostgreSQL each step's statements are sent together, so
a hold takes two round trips whatever the number of budgets and calls.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from corral.core.budget_windows import bucket_start, window_buckets
from corral.core.budgets import (
    RESERVATION_TTL,
    Amounts,
    CallContext,
    ReservationState,
    applying_budgets,
    budget_exceeded,
    project_budgets,
)
from corral.db.prebuilt import ByKeys, Driver, Pending, Prebuilt, rows_of
from corral.db.schema import BudgetCounterRow, BudgetReservationRow, BudgetRow

_COUNTERS: Table = BudgetCounterRow.__table__  # type: ignore[assignment]
_RESERVATIONS: Table = BudgetReservationRow.__table__  # type: ignore[assignment]
_BUDGETS: Table = BudgetRow.__table__  # type: ignore[assignment]


def _window_of(key_match: ColumnElement[bool]) -> Select[Any]:
    c = _COUNTERS.c
    return (
        select(
            c.id,
            c.subject_key,
            (c.bucket_start == bindparam("current")).label("current"),
            c.spent,
            c.reserved,
        )
        .where(
            c.budget_id == bindparam("budget"),
            key_match,
            c.bucket_start >= bindparam("first"),
            c.bucket_start <= bindparam("last"),
        )
        .order_by(c.id)
        .with_for_update()
    )


_WINDOWS = ByKeys(_window_of, _COUNTERS.c.subject_key, String())
"""The counters of a budget's subjects in the buckets of its window, locked."""
_BUDGET_ALIVE = Prebuilt(
    select(_BUDGETS.c.id)
    .where(_BUDGETS.c.id == bindparam("budget"))
    .with_for_update(key_share=True)
)
_COUNTER_COLUMNS = ("budget_id", "subject_key", "bucket_start", "spent", "reserved")
_CREATE_COUNTER = {
    "sqlite": Prebuilt(sqlite.insert(_COUNTERS).on_conflict_do_nothing(), _COUNTER_COLUMNS),
    "postgresql": Prebuilt(postgresql.insert(_COUNTERS).on_conflict_do_nothing(), _COUNTER_COLUMNS),
}
_HOLD_ON_COUNTER = Prebuilt(
    update(_COUNTERS)
    .where(_COUNTERS.c.id == bindparam("counter"))
    .values(reserved=_COUNTERS.c.reserved + bindparam("amount"))
)
_RESERVATION_COLUMNS = (
    "id",
    "status",
    "holds",
    "estimated_nano_usd",
    "estimated_tokens",
    "context",
    "created_at",
    "expires_at",
)
_INSERT_RESERVATION = Prebuilt(insert(_RESERVATIONS), _RESERVATION_COLUMNS)


@dataclass(frozen=True)
class Guard:
    """A lookup made in the hold's transaction, before anything is held: the hold is refused
    if it finds ``key`` (the gateway refuses calls of a halted session this way). The guards of
    a batch with the same lookup and ``values`` are looked up together (on PostgreSQL in one
    statement)."""

    lookup: ByKeys
    """Finds the keys given it that are there: the first column of its rows."""
    values: Mapping[str, Any]
    key: Any


class GuardFound(Exception):
    """The hold's guard found a row: nothing was held."""

    def __init__(self, guard: Guard) -> None:
        super().__init__("the hold's guard found a row")
        self.guard = guard


@dataclass(frozen=True)
class HoldRequest:
    """One call's worst case, to hold on the budgets that apply to it."""

    context: CallContext
    estimate: Amounts
    budgets: Sequence[BudgetRow]
    """The project's budgets as :func:`~corral.core.budgets.project_budgets` reads them (their
    terms may be a moment old; what they have spent and hold is read here, locked)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Kept in the reservation's context (model, API, …)."""
    guard: Guard | None = None


@dataclass(frozen=True)
class Held:
    """A hold taken: the reservation's values as stored."""

    values: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.values["id"])


@dataclass(frozen=True)
class _Window:
    """A subject's counters in one budget's current window: the current bucket's counter and
    the window's totals."""

    current_id: int
    spent: int
    reserved: int


def hold_many(
    driver: Driver, requests: Sequence[HoldRequest], now: datetime
) -> list[Held | Exception]:
    """Hold each request's worst case, in the driver's transaction; for each request, what was
    held or why not (:class:`~corral.core.budgets.BudgetExceeded`, :class:`GuardFound`).

    A refused request writes nothing; the transaction is the caller's to commit. Call it inside
    :meth:`Driver.pipeline`: on PostgreSQL the writes then go out together, in one round trip
    (with the commit, when the caller commits inside the pipeline).
    """
    applying = [applying_budgets(r.context, r.budgets) for r in requests]
    wanted: dict[int, tuple[BudgetRow, set[str]]] = {}
    for pairs in applying:
        for budget, key in pairs:
            wanted.setdefault(budget.id, (budget, set()))[1].add(key)
    guards = _send_guards(driver, requests)
    windows = _lock_windows(driver, [wanted[b] for b in sorted(wanted)], now)
    found = {lookup: {row[0] for row in rows_of(sent)} for lookup, sent in guards.items()}
    refused = [r.guard is not None and r.guard.key in found[_lookup(r.guard)] for r in requests]
    results = _decide(requests, applying, refused, windows, now)
    _write(driver, results)
    return results


_Lookup = tuple[int, tuple[tuple[str, Any], ...]]


def _lookup(guard: Guard) -> _Lookup:
    return id(guard.lookup), tuple(sorted(guard.values.items()))


def _send_guards(driver: Driver, requests: Sequence[HoldRequest]) -> dict[_Lookup, list[Pending]]:
    """The requests' guards, each lookup sent once for all its keys."""
    keys: dict[_Lookup, tuple[Guard, set[Any]]] = {}
    for request in requests:
        guard = request.guard
        if guard is not None:
            keys.setdefault(_lookup(guard), (guard, set()))[1].add(guard.key)
    return {
        lookup: first.lookup.send(driver, sorted(wanted), first.values)
        for lookup, (first, wanted) in keys.items()
    }


def _lock_windows(
    driver: Driver, budgets: list[tuple[BudgetRow, set[str]]], now: datetime
) -> dict[tuple[int, str], _Window]:
    """The locked windows of each budget's subjects, in budget order; a budget deleted since
    its terms were read is left out."""
    sent: list[tuple[BudgetRow, dict[str, Any], list[str], list[Pending]]] = []
    for budget, keys in budgets:
        first, last = window_buckets(budget.window, now, budget.rolling_hours)  # type: ignore[arg-type]
        terms = {
            "budget": budget.id,
            "current": bucket_start(budget.window, now),  # type: ignore[arg-type]
            "first": first,
            "last": last,
        }
        subjects = sorted(keys)
        sent.append((budget, terms, subjects, _WINDOWS.send(driver, subjects, terms)))
    windows: dict[tuple[int, str], _Window] = {}
    for budget, terms, subjects, pending in sent:
        found = _windows(rows_of(pending))
        missing = [key for key in subjects if key not in found]
        if missing:  # the first call of a bucket creates its counter (once, racing or not)
            if not driver.rows(_BUDGET_ALIVE, {"budget": budget.id}):
                continue
            for key in missing:
                driver.send(
                    _CREATE_COUNTER[driver.dialect.name],
                    {
                        "budget_id": budget.id,
                        "subject_key": key,
                        "bucket_start": terms["current"],
                        "spent": 0,
                        "reserved": 0,
                    },
                )
            found.update(_windows(_WINDOWS.rows(driver, missing, terms)))
        windows.update(((budget.id, key), window) for key, window in found.items())
    return windows


def _windows(rows: list[tuple[Any, ...]]) -> dict[str, _Window]:
    """Windows by subject, from counter rows (id, subject, is current, spent, reserved); a
    subject whose current bucket has no counter yet is left out."""
    totals: dict[str, list[int]] = {}
    current: dict[str, int] = {}
    for counter_id, key, is_current, spent, reserved in rows:
        total = totals.setdefault(key, [0, 0])
        total[0] += spent
        total[1] += reserved
        if is_current:
            current[key] = counter_id
    return {key: _Window(current[key], *totals[key]) for key in current}


def _decide(
    requests: Sequence[HoldRequest],
    applying: list[list[tuple[BudgetRow, str]]],
    guarded: list[bool],
    windows: dict[tuple[int, str], _Window],
    now: datetime,
) -> list[Held | Exception]:
    """Each request in turn, against what is spent and held, including by the requests before
    it: held, or refused."""
    added: dict[int, int] = {}
    results: list[Held | Exception] = []
    for request, pairs, refused in zip(requests, applying, guarded, strict=True):
        if refused:
            assert request.guard is not None
            results.append(GuardFound(request.guard))
            continue
        holds: list[dict[str, Any]] = []
        exceeded: Exception | None = None
        for budget, key in pairs:
            window = windows.get((budget.id, key))
            if window is None:  # deleted since its terms were read
                continue
            requested = request.estimate.in_unit(budget.unit)
            reserved = window.reserved + added.get(window.current_id, 0)
            if budget.enforce and window.spent + reserved + requested > budget.limit_units:
                exceeded = budget_exceeded(budget, key, window.spent, reserved, requested, now)
                break
            holds.append(
                {
                    "budget_id": budget.id,
                    "counter_id": window.current_id,
                    "unit": budget.unit,
                    "amount": requested,
                }
            )
        if exceeded is not None:
            results.append(exceeded)
            continue
        for hold in holds:
            added[hold["counter_id"]] = added.get(hold["counter_id"], 0) + hold["amount"]
        context = request.context
        results.append(
            Held(
                {
                    "id": secrets.token_hex(12),
                    "status": "held",
                    "holds": holds,
                    "estimated_nano_usd": request.estimate.nano_usd,
                    "estimated_tokens": request.estimate.tokens,
                    "context": {
                        "project_id": context.project_id,
                        "agent": context.agent,
                        "user": context.user,
                        "session": context.session,
                        "trace": context.trace,
                        **request.details,
                    },
                    "created_at": now,
                    "expires_at": now + RESERVATION_TTL,
                }
            )
        )
    return results


def _write(driver: Driver, results: list[Held | Exception]) -> None:
    """Add what was held to each counter (once per counter) and store the reservations."""
    added: dict[int, int] = {}
    for result in results:
        if isinstance(result, Held):
            for hold in result.values["holds"]:
                added[hold["counter_id"]] = added.get(hold["counter_id"], 0) + hold["amount"]
    driver.send_many(
        _HOLD_ON_COUNTER,
        [{"counter": i, "amount": added[i]} for i in sorted(added) if added[i]],
    )
    driver.send_many(_INSERT_RESERVATION, [r.values for r in results if isinstance(r, Held)])


def reserve(
    uow: Session,
    context: CallContext,
    estimate: Amounts,
    *,
    now: datetime,
    details: dict[str, Any] | None = None,
    budgets: Sequence[BudgetRow] | None = None,
    guard: Guard | None = None,
) -> ReservationState:
    """Hold ``estimate`` on every applicable budget in ``uow``'s transaction, or raise
    :class:`~corral.core.budgets.BudgetExceeded` (or :class:`GuardFound`) and hold nothing.

    ``budgets``: the project's budgets as :func:`~corral.core.budgets.project_budgets` read
    them, when the caller keeps them for a moment; read here otherwise.
    """
    rows = project_budgets(uow, context.project_id) if budgets is None else budgets
    uow.flush()  # the statements below run on the connection, under the session
    request = HoldRequest(context, estimate, rows, details or {}, guard)
    driver = Driver.of(uow.connection())
    with driver.pipeline():
        [result] = hold_many(driver, [request], now)
    if isinstance(result, Exception):
        raise result
    return ReservationState(**result.values)
