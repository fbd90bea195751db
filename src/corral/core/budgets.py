"""Budgets: limits on spend, enforced before each call by reserving its worst case.

Enforcement is check-and-hold in one transaction: every budget that applies to a call has its
counter rows for the current window locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one
writer at a time), the worst-case amount is checked against what is spent and already held, and
held. Concurrent calls therefore see each other's holds, and no number of replicas can overshoot a
limit — the failure LiteLLM's check-then-record design had (the hold itself:
:mod:`corral.core.budget_holds`). When a call ends its hold is replaced by the real amount
(settle) or dropped (release); holds of calls that never reported back expire and count as spent,
since the provider may have charged for them.

Amounts are integers: nano-dollars for ``usd`` budgets, tokens for ``tokens`` budgets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Select, String, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from corral.core.access import Principal, authorize, resolve_project
from corral.core.alerts import raise_alert
from corral.core.audit import record_audit
from corral.core.budget_windows import resets_at, window_buckets
from corral.core.group_commit import defer_before_commit
from corral.core.runtime import Runtime
from corral.db.prebuilt import ByKeys, Driver, Prebuilt
from corral.db.schema import (
    BudgetAlertRow,
    BudgetCounterRow,
    BudgetReservationRow,
    BudgetRow,
    ProjectRow,
)
from corral.db.upsert import insert_ignoring_conflicts
from corral.errors import NotFound, RateLimited
from corral.schemas.access import Permission
from corral.schemas.budgets import (
    Budget,
    BudgetAlert,
    BudgetCreate,
    BudgetUpdate,
    BudgetUsage,
    Reservation,
)

NANO = 1_000_000_000
RESERVATION_TTL = timedelta(minutes=15)
"""A hold not settled within this time expires (and counts as spent)."""


def to_units(unit: str, amount: float) -> int:
    return round(amount * NANO) if unit == "usd" else round(amount)


def from_units(unit: str, units: int) -> float:
    return units / NANO if unit == "usd" else float(units)


@dataclass(frozen=True)
class CallContext:
    """Who a call is for: what budgets match against."""

    project_id: int
    agent: str | None = None
    user: str | None = None
    session: str | None = None
    trace: str | None = None
    version_id: int | None = None
    """The agent version serving the call, for budgets that belong to a version."""

    def subject(self, scope: str) -> str | None:
        return {
            "agent": self.agent,
            "user": self.user,
            "session": self.session,
            "trace": self.trace,
        }.get(scope)


@dataclass(frozen=True)
class Amounts:
    nano_usd: int
    tokens: int

    def in_unit(self, unit: str) -> int:
        return self.nano_usd if unit == "usd" else self.tokens


class BudgetExceeded(RateLimited):
    """HTTP 429 with code ``budget_exceeded`` and the budget that refused the call."""

    default_code = "budget_exceeded"


# --- which budgets apply -------------------------------------------------------------------


def _subject_key(budget: BudgetRow, context: CallContext) -> str | None:
    """The counter a call is charged to in ``budget``, or None if the budget does not apply."""
    if budget.disabled or (
        budget.project_id is not None and budget.project_id != context.project_id
    ):
        return None
    if budget.agent_version_id is not None and budget.agent_version_id != context.version_id:
        return None  # a version's own budget counts only the calls that version serves
    if budget.scope in ("workspace", "project"):
        return ""
    subject = context.subject(budget.scope)
    if subject is None:
        return None
    if budget.subject is None:
        return subject  # "each" budget: one counter per agent / user / session / trace
    return "" if budget.subject == subject else None


def project_budgets(uow: Session, project_id: int) -> list[BudgetRow]:
    """Every enabled budget of the project or of the whole workspace, in id order."""
    return list(
        uow.scalars(
            select(BudgetRow)
            .where(
                BudgetRow.disabled.is_(False),
                or_(BudgetRow.project_id.is_(None), BudgetRow.project_id == project_id),
            )
            .order_by(BudgetRow.id)
        ).all()
    )


def applying_budgets(
    context: CallContext, candidates: Sequence[BudgetRow]
) -> list[tuple[BudgetRow, str]]:
    """Those of ``candidates`` (a project's budgets, in id order) that apply to the call, with
    the counter each charges."""
    return [(row, key) for row in candidates if (key := _subject_key(row, context)) is not None]


# --- refusals -------------------------------------------------------------------------------


def budget_exceeded(
    budget: BudgetRow, key: str, spent: int, reserved: int, requested: int, now: datetime
) -> BudgetExceeded:
    """The refusal of a call whose worst case would cross ``budget``'s limit for ``key``."""
    unit = budget.unit
    reset = resets_at(budget.window, now, budget.rolling_hours)  # type: ignore[arg-type]
    label = f"{budget.scope} budget {budget.name!r}" + (f" for {key!r}" if key else "")
    return BudgetExceeded(
        f"the {label} would be exceeded: limit {_fmt(unit, budget.limit_units)}, spent "
        f"{_fmt(unit, spent)}, held for calls in flight {_fmt(unit, reserved)}, this call needs "
        f"up to {_fmt(unit, requested)}."
        + (f" The window resets at {reset.isoformat()}." if reset else ""),
        details={
            "budget": {
                "id": budget.id,
                "name": budget.name,
                "scope": budget.scope,
                "subject": key or budget.subject,
            },
            "unit": unit,
            "limit": from_units(unit, budget.limit_units),
            "spent": from_units(unit, spent),
            "reserved": from_units(unit, reserved),
            "requested": from_units(unit, requested),
            "remaining": from_units(unit, max(0, budget.limit_units - spent - reserved)),
            "resets_at": reset.isoformat() if reset else None,
        },
    )


def _fmt(unit: str, units: int) -> str:
    return f"${units / NANO:,.4f}" if unit == "usd" else f"{units:,} tokens"


# --- reserve / settle / release -------------------------------------------------------------


@dataclass
class ReservationState:
    """A reservation as stored (a plain object: building ORM rows cost more than settling)."""

    id: str
    status: str
    holds: list[dict[str, Any]]
    estimated_nano_usd: int
    estimated_tokens: int
    context: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    charged_nano_usd: int | None = None
    charged_tokens: int | None = None
    settled_at: datetime | None = None


def settle(
    uow: Session,
    reservation_id: str,
    actual: Amounts | None,
    *,
    now: datetime,
    status: str = "settled",
) -> ReservationState | None:
    """Replace a hold by what the call really cost (``actual`` None: release it, nothing spent).

    Idempotent: a reservation that is no longer held is left alone.
    """
    return settle_many(uow, [(reservation_id, actual)], now=now, status=status).get(reservation_id)


def settle_many(
    uow: Session,
    settlements: Sequence[tuple[str, Amounts | None]],
    *,
    now: datetime,
    status: str = "settled",
) -> dict[str, ReservationState]:
    """Settle (or, with None, release) several holds; returns the reservations found, by id.

    Reservations are locked in id order, then every counter they hold in (budget, id) order, so
    transactions settling different batches at once cannot deadlock. Statements built once, on
    the session's connection: the gateway settles every call it forwards.
    """
    actual_of = dict(settlements)
    uow.flush()  # the statements below run on the connection, under the session
    driver = Driver.of(uow.connection())
    with driver.pipeline():
        rows = [_reservation(r) for r in _RESERVATIONS_LOCKED.rows(driver, sorted(actual_of))]
        held = [row for row in rows if row.status == "held"]
        counter_ids = sorted({int(h["counter_id"]) for row in held for h in row.holds})
        locked = _COUNTERS_LOCKED.rows(driver, counter_ids)
        # In (budget, id) order on both databases, the order PostgreSQL locks them in.
        locked.sort(key=lambda row: (row[1], row[0]))
        counters = {c[0]: _Counter(*c) for c in locked}
        charged: dict[int, int] = {}
        for row in held:
            actual = actual_of[row.id]
            for hold in row.holds:
                counter = counters.get(hold["counter_id"])
                if counter is None:  # the budget was deleted meanwhile
                    continue
                counter.reserved = max(0, counter.reserved - int(hold["amount"]))
                if actual is not None:
                    amount = actual.in_unit(hold["unit"])
                    counter.spent += amount
                    charged[counter.id] = charged.get(counter.id, 0) + amount
            row.status = status if actual is not None else "released"
            row.charged_nano_usd = actual.nano_usd if actual else 0
            row.charged_tokens = actual.tokens if actual else 0
            row.settled_at = now
        driver.send_many(
            _SET_COUNTER,
            [
                {"counter": counter.id, "spent": counter.spent, "reserved": counter.reserved}
                for counter in counters.values()
            ],
        )
        driver.send_many(
            _SET_RESERVATION,
            [
                {
                    "reservation": row.id,
                    "status": row.status,
                    "charged_nano_usd": row.charged_nano_usd,
                    "charged_tokens": row.charged_tokens,
                    "settled_at": now,
                }
                for row in held
            ],
        )
    if charged:
        _fire_thresholds(uow, [(counters[i], amount) for i, amount in charged.items()], now)
    return {row.id: row for row in rows}


_R: Table = BudgetReservationRow.__table__  # type: ignore[assignment]
_C: Table = BudgetCounterRow.__table__  # type: ignore[assignment]
_B: Table = BudgetRow.__table__  # type: ignore[assignment]
_BUDGET_TERMS = (
    "name",
    "scope",
    "subject",
    "project_id",
    "unit",
    "limit_units",
    "window",
    "rolling_hours",
    "thresholds",
)


@dataclass(frozen=True)
class _Terms:
    """What a budget's thresholds need of it."""

    id: int
    name: str
    scope: str
    subject: str | None
    project_id: int | None
    unit: str
    limit_units: int
    window: str
    rolling_hours: int | None
    thresholds: list[int]


class _Counter:
    """A counter being settled, with the terms of its budget (for its thresholds)."""

    def __init__(self, *values: Any) -> None:
        self.id: int = values[0]
        self.budget_id: int = values[1]
        self.subject_key: str = values[2]
        self.bucket_start: datetime = values[3]
        self.spent: int = values[4]
        self.reserved: int = values[5]
        self.budget = _Terms(self.budget_id, *values[6:])


def _locked_by(table: Table, columns: Sequence[Any], key_type: Any, *order: Any) -> ByKeys:
    """Rows of ``table`` by id, locked (with their budget's terms, for counters)."""

    def build(match: ColumnElement[bool]) -> Select[Any]:
        statement = select(*columns).where(match).order_by(*order)
        if table is _C:
            statement = statement.join_from(_C, _B, _B.c.id == _C.c.budget_id)
        return statement.with_for_update(of=table)

    return ByKeys(build, table.c.id, key_type)


_COUNTER_COLUMNS = [
    _C.c.id,
    _C.c.budget_id,
    _C.c.subject_key,
    _C.c.bucket_start,
    _C.c.spent,
    _C.c.reserved,
    *(_B.c[name] for name in _BUDGET_TERMS),
]
_RESERVATIONS_LOCKED = _locked_by(_R, list(_R.c), String(), _R.c.id)
_COUNTERS_LOCKED = _locked_by(_C, _COUNTER_COLUMNS, BigInteger(), _C.c.budget_id, _C.c.id)
_SET_COUNTER = Prebuilt(
    update(_C)
    .where(_C.c.id == bindparam("counter"))
    .values(spent=bindparam("spent"), reserved=bindparam("reserved"))
)
_SET_RESERVATION = Prebuilt(
    update(_R)
    .where(_R.c.id == bindparam("reservation"))
    .values(
        status=bindparam("status"),
        charged_nano_usd=bindparam("charged_nano_usd"),
        charged_tokens=bindparam("charged_tokens"),
        settled_at=bindparam("settled_at"),
    )
)


def _reservation(values: Sequence[Any]) -> ReservationState:
    return ReservationState(**{c.key: v for c, v in zip(_R.c, values, strict=True)})


def settle_before_commit(
    uow: Session, reservation_id: str, actual: Amounts | None, now: datetime
) -> None:
    """Settle a hold in a shared (group) transaction: all holds settled in it are settled
    together, in lock order, just before it commits."""
    defer_before_commit(uow, "budget_settlements", _settle_batch, [(reservation_id, actual, now)])


def _settle_batch(uow: Session, items: list[tuple[str, Amounts | None, datetime]]) -> None:
    settle_many(uow, [(rid, actual) for rid, actual, _ in items], now=max(n for *_, n in items))


def expire_reservations(rt: Runtime) -> int:
    """Background job: holds past their expiry count as spent at the held amount."""
    now = rt.clock.now()
    with rt.db.write() as uow:
        stale = uow.scalars(
            select(BudgetReservationRow)
            .where(BudgetReservationRow.status == "held", BudgetReservationRow.expires_at < now)
            .order_by(BudgetReservationRow.id)
            .limit(1000)
        ).all()
        expired = [(r.id, Amounts(r.estimated_nano_usd, r.estimated_tokens)) for r in stale]
        settle_many(uow, expired, now=now, status="expired")
    return len(stale)


def _fire_thresholds(uow: Session, charged: Sequence[tuple[_Counter, int]], now: datetime) -> None:
    """Record each soft threshold that the amounts just charged crossed (once per budget,
    subject and window)."""
    for counter, amount in charged:
        budget = counter.budget
        if not budget.thresholds:
            continue
        first, last = window_buckets(budget.window, now, budget.rolling_hours)  # type: ignore[arg-type]
        # A one-bucket window charged in its own bucket: the counter is the whole window.
        spent = (
            counter.spent
            if first == last == counter.bucket_start
            else int(
                uow.scalar(
                    select(func.coalesce(func.sum(BudgetCounterRow.spent), 0)).where(
                        BudgetCounterRow.budget_id == budget.id,
                        BudgetCounterRow.subject_key == counter.subject_key,
                        BudgetCounterRow.bucket_start >= first,
                        BudgetCounterRow.bucket_start <= last,
                    )
                )
                or 0
            )
        )
        before = spent - amount
        crossed = [
            t for t in budget.thresholds if 100 * before < t * budget.limit_units <= 100 * spent
        ]
        for threshold in crossed:
            fresh = insert_ignoring_conflicts(
                uow,
                BudgetAlertRow.__table__,  # type: ignore[arg-type]
                [
                    {
                        "budget_id": budget.id,
                        "subject_key": counter.subject_key,
                        "window_start": first,
                        "threshold": threshold,
                        "spent_units": spent,
                        "limit_units": budget.limit_units,
                        "fired_at": now,
                    }
                ],
            )
            if not fresh:
                continue
            who = f" for {counter.subject_key}" if counter.subject_key else ""
            raise_alert(
                uow,
                kind="budget_threshold",
                severity="critical" if threshold >= 100 else "warning",
                key=f"budget:{budget.id}:{counter.subject_key}:{first.isoformat()}:{threshold}",
                title=f"Budget {budget.name!r}{who} reached {threshold}% "
                f"({_fmt(budget.unit, spent)} of {_fmt(budget.unit, budget.limit_units)})",
                details={
                    "budget": budget.id,
                    "subject": counter.subject_key or budget.subject,
                    "threshold": threshold,
                    "spent": from_units(budget.unit, spent),
                    "limit": from_units(budget.unit, budget.limit_units),
                },
                project_id=budget.project_id,
                now=now,
            )


# --- management -----------------------------------------------------------------------------


def describe_budget(row: BudgetRow, project_name: str | None) -> Budget:
    return Budget(
        id=row.id,
        name=row.name,
        scope=row.scope,
        subject=row.subject,
        project=project_name,
        unit=row.unit,
        limit=from_units(row.unit, row.limit_units),
        window=row.window,
        rolling_hours=row.rolling_hours,
        thresholds=row.thresholds,
        enforce=row.enforce,
        disabled=row.disabled,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _authorize_write(uow: Session, actor: Principal, project_id: int | None) -> ProjectRow | None:
    """Project budgets: ``budgets:write`` (project admin). Workspace-wide: workspace admins."""
    if project_id is None:
        authorize(actor, Permission.WORKSPACE_ADMIN)
        return None
    project = uow.get_one(ProjectRow, project_id)
    authorize(actor, Permission.BUDGETS_WRITE, project)
    return project


def create_budget(rt: Runtime, actor: Principal, body: BudgetCreate) -> Budget:
    with rt.db.write() as uow:
        project = (
            resolve_project(uow, actor, body.project, Permission.BUDGETS_WRITE)
            if body.project
            else None
        )
        if project is None:
            authorize(actor, Permission.WORKSPACE_ADMIN)
        row = BudgetRow(
            name=body.name,
            scope=body.scope,
            subject=body.subject,
            project_id=project.id if project else None,
            unit=body.unit,
            limit_units=to_units(body.unit, body.limit),
            window=body.window,
            rolling_hours=body.rolling_hours,
            thresholds=sorted(body.thresholds),
            enforce=body.enforce,
            disabled=False,
            created_by=actor.name,
            created_at=rt.clock.now(),
        )
        uow.add(row)
        uow.flush()
        record_audit(
            uow,
            actor=actor,
            action="budget.create",
            target_kind="budget",
            target_id=row.id,
            project=project,
            details=body.model_dump(mode="json"),
            now=row.created_at,
        )
        return describe_budget(row, project.name if project else None)


def _budget_row(uow: Session, actor: Principal, budget_id: int) -> BudgetRow:
    row = uow.get(BudgetRow, budget_id)
    visible = row is not None and (
        row.project_id is None or actor.role_in(row.project_id) is not None
    )
    if row is None or not visible:
        raise NotFound(
            f"budget {budget_id} does not exist or is not in a project you reach.",
            code="budget_not_found",
        )
    return row


def update_budget(rt: Runtime, actor: Principal, budget_id: int, body: BudgetUpdate) -> Budget:
    changes = body.model_dump(exclude_unset=True)
    with rt.db.write() as uow:
        row = _budget_row(uow, actor, budget_id)
        project = _authorize_write(uow, actor, row.project_id)
        before = {
            "limit": from_units(row.unit, row.limit_units),
            "thresholds": row.thresholds,
            "enforce": row.enforce,
            "disabled": row.disabled,
            "name": row.name,
        }
        if "limit" in changes and changes["limit"] is not None:
            row.limit_units = to_units(row.unit, changes.pop("limit"))
        if changes.get("thresholds") is not None:
            row.thresholds = sorted(changes.pop("thresholds"))
        for field, value in changes.items():
            if value is not None:
                setattr(row, field, value)
        uow.flush()
        record_audit(
            uow,
            actor=actor,
            action="budget.update",
            target_kind="budget",
            target_id=row.id,
            project=project,
            details={"before": before, "after": body.model_dump(exclude_unset=True)},
            now=rt.clock.now(),
        )
        return describe_budget(row, project.name if project else None)


def delete_budget(rt: Runtime, actor: Principal, budget_id: int) -> None:
    with rt.db.write() as uow:
        row = _budget_row(uow, actor, budget_id)
        project = _authorize_write(uow, actor, row.project_id)
        record_audit(
            uow,
            actor=actor,
            action="budget.delete",
            target_kind="budget",
            target_id=row.id,
            project=project,
            details={"name": row.name},
            now=rt.clock.now(),
        )
        uow.delete(row)


def list_budgets(rt: Runtime, actor: Principal, *, project: str | None = None) -> list[Budget]:
    """Budgets the caller can see: workspace-wide ones and those of reachable projects."""
    with rt.db.read() as uow:
        query = (
            select(BudgetRow, ProjectRow.name)
            .outerjoin(ProjectRow, ProjectRow.id == BudgetRow.project_id)
            .order_by(BudgetRow.id)
        )
        if project is not None:
            row = resolve_project(uow, actor, project, Permission.COSTS_READ)
            query = query.where(BudgetRow.project_id == row.id)
        rows = uow.execute(query).all()
    return [
        describe_budget(b, name)
        for b, name in rows
        if b.project_id is None or actor.role_in(b.project_id) is not None
    ]


def get_budget(rt: Runtime, actor: Principal, budget_id: int) -> Budget:
    with rt.db.read() as uow:
        row = _budget_row(uow, actor, budget_id)
        name = uow.get_one(ProjectRow, row.project_id).name if row.project_id else None
        return describe_budget(row, name)


def budget_usage(
    rt: Runtime, actor: Principal, budget_id: int, *, limit: int = 50
) -> list[BudgetUsage]:
    """Current-window consumption, per subject for "each" budgets, largest first."""
    now = rt.clock.now()
    with rt.db.read() as uow:
        row = _budget_row(uow, actor, budget_id)
        first, last = window_buckets(row.window, now, row.rolling_hours)  # type: ignore[arg-type]
        totals: list[tuple[str, int, int]] = [
            (key, int(spent or 0), int(reserved or 0))
            for key, spent, reserved in uow.execute(
                select(
                    BudgetCounterRow.subject_key,
                    func.sum(BudgetCounterRow.spent),
                    func.sum(BudgetCounterRow.reserved),
                )
                .where(
                    BudgetCounterRow.budget_id == row.id,
                    BudgetCounterRow.bucket_start >= first,
                    BudgetCounterRow.bucket_start <= last,
                )
                .group_by(BudgetCounterRow.subject_key)
                .order_by(func.sum(BudgetCounterRow.spent + BudgetCounterRow.reserved).desc())
                .limit(limit)
            )
        ]
    if not totals and (row.subject is not None or row.scope in ("workspace", "project")):
        totals = [("", 0, 0)]
    unit = row.unit
    return [
        BudgetUsage(
            budget_id=row.id,
            budget=row.name,
            subject=key or row.subject,
            unit=unit,
            limit=from_units(unit, row.limit_units),
            spent=from_units(unit, spent),
            reserved=from_units(unit, reserved),
            remaining=from_units(unit, max(0, row.limit_units - spent - reserved)),
            percent=round(100 * spent / row.limit_units, 2),
            window_start=None if row.window == "total" else first,
            resets_at=resets_at(row.window, now, row.rolling_hours),  # type: ignore[arg-type]
        )
        for key, spent, reserved in totals
    ]


def list_alerts(rt: Runtime, actor: Principal, *, limit: int = 100) -> list[BudgetAlert]:
    with rt.db.read() as uow:
        rows = uow.execute(
            select(BudgetAlertRow, BudgetRow)
            .join(BudgetRow, BudgetRow.id == BudgetAlertRow.budget_id)
            .order_by(BudgetAlertRow.id.desc())
            .limit(limit * 4)
        ).all()
    visible = [
        (a, b) for a, b in rows if b.project_id is None or actor.role_in(b.project_id) is not None
    ]
    return [
        BudgetAlert(
            id=a.id,
            budget_id=b.id,
            budget=b.name,
            subject=a.subject_key or b.subject,
            threshold=a.threshold,
            window_start=a.window_start,
            spent=from_units(b.unit, a.spent_units),
            limit=from_units(b.unit, a.limit_units),
            unit=b.unit,
            fired_at=a.fired_at,
        )
        for a, b in visible[:limit]
    ]


def describe_reservation(row: ReservationState) -> Reservation:
    return Reservation(
        id=row.id,
        status=row.status,
        estimated_usd=row.estimated_nano_usd / NANO,
        estimated_tokens=row.estimated_tokens,
        budgets=[h["budget_id"] for h in row.holds],
        expires_at=row.expires_at,
        charged_usd=None if row.charged_nano_usd is None else row.charged_nano_usd / NANO,
        charged_tokens=row.charged_tokens,
    )
