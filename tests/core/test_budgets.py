from __future__ import annotations

import concurrent.futures
from datetime import timedelta

import pytest
from sqlalchemy import select

from corral.core import keys
from corral.core.access import Principal
from corral.core.budget_holds import reserve
from corral.core.budgets import (
    Amounts,
    BudgetExceeded,
    CallContext,
    budget_usage,
    create_budget,
    delete_budget,
    expire_reservations,
    list_alerts,
    project_budgets,
    settle,
)
from corral.core.clock import ManualClock
from corral.core.projects import create_project
from corral.core.runtime import Runtime
from corral.db.schema import BudgetReservationRow
from corral.errors import Forbidden
from corral.schemas.access import Role
from corral.schemas.budgets import BudgetCreate
from corral.schemas.tenancy import ProjectCreate
from tests.core.budget_helpers import usd


@pytest.fixture
def admin(runtime: Runtime, admin_key: str) -> Principal:
    return keys.authenticate(runtime, admin_key)


@pytest.fixture
def project_id(runtime: Runtime, admin: Principal) -> int:
    return create_project(runtime, admin, ProjectCreate(name="shop")).id


def hold(runtime: Runtime, context: CallContext, amounts: Amounts) -> str:
    with runtime.db.write() as uow:
        return reserve(uow, context, amounts, now=runtime.clock.now()).id


def finish(runtime: Runtime, reservation: str, amounts: Amounts | None) -> None:
    with runtime.db.write() as uow:
        settle(uow, reservation, amounts, now=runtime.clock.now())


def test_hold_then_settle_frees_the_unused_part(
    runtime: Runtime, admin: Principal, project_id: int
) -> None:
    budget = create_budget(
        runtime, admin, BudgetCreate(name="b", scope="project", project="shop", limit=1.0)
    )
    context = CallContext(project_id=project_id)
    first = hold(runtime, context, usd(0.6))
    with pytest.raises(BudgetExceeded) as err:
        hold(runtime, context, usd(0.5))  # 0.6 held + 0.5 > 1.0
    details = err.value.details
    assert (err.value.status, err.value.code) == (429, "budget_exceeded")
    assert details["budget"]["id"] == budget.id
    assert (details["limit"], details["spent"], details["reserved"], details["requested"]) == (
        1.0,
        0.0,
        0.6,
        0.5,
    )
    assert details["resets_at"] is not None
    finish(runtime, first, usd(0.2))  # the call cost less than its worst case
    second = hold(runtime, context, usd(0.5))
    finish(runtime, second, None)  # failed upstream: nothing spent
    [usage] = budget_usage(runtime, admin, budget.id)
    assert (usage.spent, usage.reserved, usage.remaining) == (0.2, 0.0, 0.8)


def test_refusal_holds_nothing_anywhere(
    runtime: Runtime, admin: Principal, project_id: int
) -> None:
    wide = create_budget(runtime, admin, BudgetCreate(name="all", scope="workspace", limit=100.0))
    narrow = create_budget(
        runtime, admin, BudgetCreate(name="agent", scope="agent", subject="bot", limit=1.0)
    )
    with pytest.raises(BudgetExceeded):
        hold(runtime, CallContext(project_id=project_id, agent="bot"), usd(2.0))
    assert budget_usage(runtime, admin, wide.id)[0].reserved == 0
    assert budget_usage(runtime, admin, narrow.id)[0].reserved == 0
    # Another agent is not limited by bot's budget.
    hold(runtime, CallContext(project_id=project_id, agent="other"), usd(2.0))


def test_each_session_gets_its_own_counter(
    runtime: Runtime, admin: Principal, project_id: int
) -> None:
    budget = create_budget(
        runtime, admin, BudgetCreate(name="per session", scope="session", limit=1.0)
    )
    for session in ("s1", "s2"):
        finish(
            runtime,
            hold(runtime, CallContext(project_id=project_id, session=session), usd(0.9)),
            usd(0.9),
        )
    with pytest.raises(BudgetExceeded) as err:
        hold(runtime, CallContext(project_id=project_id, session="s1"), usd(0.2))
    assert err.value.details["budget"]["subject"] == "s1"
    hold(
        runtime, CallContext(project_id=project_id), usd(5)
    )  # no session: the budget does not apply
    assert {u.subject for u in budget_usage(runtime, admin, budget.id)} == {"s1", "s2"}


def test_a_budget_deleted_after_its_terms_were_read_holds_nothing(
    runtime: Runtime, admin: Principal, project_id: int
) -> None:
    kept = create_budget(runtime, admin, BudgetCreate(name="kept", scope="workspace", limit=9.0))
    gone = create_budget(runtime, admin, BudgetCreate(name="gone", scope="session", limit=1.0))
    with runtime.db.read() as uow:
        terms = project_budgets(uow, project_id)  # as another replica keeps them for a moment
    assert [b.id for b in terms] == [kept.id, gone.id]
    delete_budget(runtime, admin, gone.id)
    with runtime.db.write() as uow:
        held = reserve(
            uow,
            CallContext(project_id=project_id, session="s1"),
            usd(5.0),  # more than the deleted budget allowed
            now=runtime.clock.now(),
            budgets=terms,
        )
    assert [h["budget_id"] for h in held.holds] == [kept.id]
    assert budget_usage(runtime, admin, kept.id)[0].reserved == 5.0


def test_token_budgets_count_tokens(runtime: Runtime, admin: Principal, project_id: int) -> None:
    create_budget(
        runtime,
        admin,
        BudgetCreate(name="t", scope="project", project="shop", unit="tokens", limit=1000),
    )
    context = CallContext(project_id=project_id)
    hold(runtime, context, Amounts(nano_usd=10**9, tokens=600))
    with pytest.raises(BudgetExceeded) as err:
        hold(runtime, context, Amounts(nano_usd=1, tokens=500))
    assert err.value.details["unit"] == "tokens"


def test_daily_window_rolls_over(
    runtime: Runtime, admin: Principal, project_id: int, clock: ManualClock
) -> None:
    create_budget(
        runtime,
        admin,
        BudgetCreate(name="d", scope="project", project="shop", limit=1.0, window="day"),
    )
    context = CallContext(project_id=project_id)
    finish(runtime, hold(runtime, context, usd(1.0)), usd(1.0))
    with pytest.raises(BudgetExceeded):
        hold(runtime, context, usd(0.01))
    clock.advance(timedelta(days=1))
    hold(runtime, context, usd(1.0))


def test_rolling_window_forgets_old_hours(
    runtime: Runtime, admin: Principal, project_id: int, clock: ManualClock
) -> None:
    create_budget(
        runtime,
        admin,
        BudgetCreate(
            name="r", scope="project", project="shop", limit=1.0, window="rolling", rolling_hours=2
        ),
    )
    context = CallContext(project_id=project_id)
    finish(runtime, hold(runtime, context, usd(0.7)), usd(0.7))
    clock.advance(timedelta(hours=1))
    with pytest.raises(BudgetExceeded):
        hold(runtime, context, usd(0.5))  # 0.7 an hour ago still counts
    clock.advance(timedelta(hours=1))
    hold(runtime, context, usd(0.9))


def test_thresholds_alert_once_per_window(
    runtime: Runtime, admin: Principal, project_id: int, clock: ManualClock
) -> None:
    create_budget(
        runtime,
        admin,
        BudgetCreate(
            name="soft",
            scope="project",
            project="shop",
            limit=10.0,
            window="day",
            thresholds=[50, 80],
            enforce=False,
        ),
    )
    context = CallContext(project_id=project_id)
    for amount in (3.0, 3.0, 3.0, 3.0):  # 30%, 60%, 90%, 120%: a soft budget never refuses
        finish(runtime, hold(runtime, context, usd(amount)), usd(amount))
    alerts = list_alerts(runtime, admin)
    assert sorted(a.threshold for a in alerts) == [50, 80]
    clock.advance(timedelta(days=1))
    finish(runtime, hold(runtime, context, usd(6.0)), usd(6.0))
    assert sorted(a.threshold for a in list_alerts(runtime, admin)) == [50, 50, 80]


def test_expired_holds_count_as_spent(
    runtime: Runtime, admin: Principal, project_id: int, clock: ManualClock
) -> None:
    budget = create_budget(
        runtime, admin, BudgetCreate(name="x", scope="project", project="shop", limit=1.0)
    )
    reservation = hold(runtime, CallContext(project_id=project_id), usd(0.4))
    assert expire_reservations(runtime) == 0
    clock.advance(timedelta(hours=1))
    assert expire_reservations(runtime) == 1
    with runtime.db.read() as uow:
        assert uow.get_one(BudgetReservationRow, reservation).status == "expired"
    [usage] = budget_usage(runtime, admin, budget.id)
    assert (usage.spent, usage.reserved) == (0.4, 0.0)
    finish(runtime, reservation, usd(0.1))  # a late settlement changes nothing
    assert budget_usage(runtime, admin, budget.id)[0].spent == 0.4


def test_concurrent_holds_never_overshoot(
    runtime: Runtime, admin: Principal, project_id: int
) -> None:
    budget = create_budget(
        runtime, admin, BudgetCreate(name="c", scope="project", project="shop", limit=1.0)
    )
    context = CallContext(project_id=project_id)

    def attempt(_: int) -> str:
        try:
            reservation = hold(runtime, context, usd(0.1))
        except BudgetExceeded:
            return "refused"
        finish(runtime, reservation, usd(0.1))
        return "spent"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    assert outcomes.count("spent") == 10
    assert budget_usage(runtime, admin, budget.id)[0].spent == pytest.approx(1.0)


def test_only_admins_write_budgets(runtime: Runtime, admin: Principal, project_id: int) -> None:
    member = Principal(kind="user", id=99, name="m", project_roles={project_id: Role.MEMBER})
    with pytest.raises(Forbidden):
        create_budget(
            runtime, member, BudgetCreate(name="b", scope="project", project="shop", limit=1)
        )
    with pytest.raises(Forbidden):
        create_budget(runtime, member, BudgetCreate(name="b", scope="workspace", limit=1))
    with runtime.db.read() as uow:
        assert uow.scalars(select(BudgetReservationRow)).all() == []
