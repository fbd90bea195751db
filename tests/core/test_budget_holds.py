"""Several calls held in one transaction, and the gateway's hold writer."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import Integer, select

from corral.core import keys
from corral.core.access import Principal
from corral.core.budget_holds import Guard, GuardFound, Held, HoldRequest, hold_many
from corral.core.budgets import (
    BudgetExceeded,
    CallContext,
    budget_usage,
    create_budget,
    project_budgets,
)
from corral.core.gateway_holds import hold_writer, stop_hold_writer
from corral.core.projects import create_project
from corral.core.runtime import Runtime
from corral.db.prebuilt import ByKeys, Driver
from corral.db.schema import BudgetCounterRow, BudgetReservationRow, BudgetRow, ProjectRow
from corral.schemas.budgets import Budget, BudgetCreate
from corral.schemas.tenancy import ProjectCreate
from tests.core.budget_helpers import usd


@pytest.fixture
def admin(runtime: Runtime, admin_key: str) -> Principal:
    return keys.authenticate(runtime, admin_key)


@pytest.fixture
def project_id(runtime: Runtime, admin: Principal) -> int:
    return create_project(runtime, admin, ProjectCreate(name="shop")).id


@pytest.fixture
def budget(runtime: Runtime, admin: Principal, project_id: int) -> Budget:
    """A hard limit of $1 on the project."""
    return create_budget(
        runtime, admin, BudgetCreate(name="b", scope="project", project="shop", limit=1.0)
    )


def requests(runtime: Runtime, context: CallContext, *amounts: float) -> list[HoldRequest]:
    with runtime.db.read() as uow:
        budgets = project_budgets(uow, context.project_id)
    return [HoldRequest(context, usd(a), budgets, {"model": "m"}) for a in amounts]


def hold_together(runtime: Runtime, batch: list[HoldRequest]) -> list[Held | Exception]:
    with runtime.db.write() as uow:
        driver = Driver.of(uow.connection())
        with driver.pipeline():
            return hold_many(driver, batch, runtime.clock.now())


def stored_reservations(runtime: Runtime) -> int:
    with runtime.db.read() as uow:
        return len(uow.scalars(select(BudgetReservationRow.id)).all())


def test_each_call_of_a_batch_sees_the_holds_before_it(
    runtime: Runtime, admin: Principal, project_id: int, budget: Budget
) -> None:
    context = CallContext(project_id=project_id)
    first, second, third, fourth = hold_together(
        runtime, requests(runtime, context, 0.4, 0.4, 0.4, 0.2)
    )
    assert isinstance(first, Held)
    assert isinstance(second, Held)
    assert isinstance(third, BudgetExceeded)
    assert third.details["reserved"] == 0.8  # the two holds before it, not yet committed
    assert isinstance(fourth, Held)  # the refused one held nothing: 0.2 still fits
    [usage] = budget_usage(runtime, admin, budget.id)
    assert usage.reserved == pytest.approx(1.0)
    assert stored_reservations(runtime) == 3


def test_a_call_refused_by_its_second_budget_holds_nothing_on_its_first(
    runtime: Runtime, admin: Principal, project_id: int
) -> None:
    wide = create_budget(runtime, admin, BudgetCreate(name="all", scope="workspace", limit=10.0))
    create_budget(runtime, admin, BudgetCreate(name="bot", scope="agent", subject="bot", limit=1))
    bot = CallContext(project_id=project_id, agent="bot")
    other = CallContext(project_id=project_id, agent="other")
    batch = [*requests(runtime, bot, 2.0), *requests(runtime, other, 3.0)]
    refused, held = hold_together(runtime, batch)
    assert isinstance(refused, BudgetExceeded)
    assert refused.details["budget"]["name"] == "bot"
    assert isinstance(held, Held)
    assert budget_usage(runtime, admin, wide.id)[0].reserved == pytest.approx(3.0)
    assert stored_reservations(runtime) == 1


def test_a_guard_that_finds_its_key_refuses_only_its_call(
    runtime: Runtime, admin: Principal, project_id: int
) -> None:
    budget = create_budget(runtime, admin, BudgetCreate(name="all", scope="workspace", limit=10))
    projects = ByKeys(
        lambda match: select(ProjectRow.id).where(match), ProjectRow.id.expression, Integer()
    )
    guard = Guard(projects, {}, project_id)  # sent with the next one: one lookup of both keys
    missing = Guard(projects, {}, project_id + 1000)
    plain, guarded, unguarded = requests(runtime, CallContext(project_id=project_id), 1.0, 1.0, 1.0)
    results = hold_together(
        runtime,
        [
            plain,
            HoldRequest(guarded.context, guarded.estimate, guarded.budgets, guard=guard),
            HoldRequest(unguarded.context, unguarded.estimate, unguarded.budgets, guard=missing),
        ],
    )
    assert [type(r) for r in results] == [Held, GuardFound, Held]
    assert budget_usage(runtime, admin, budget.id)[0].reserved == pytest.approx(2.0)


def test_the_writer_holds_concurrent_calls_without_overshooting(
    runtime: Runtime, admin: Principal, project_id: int, budget: Budget
) -> None:
    batch = requests(runtime, CallContext(project_id=project_id), *[0.1] * 30)
    release = threading.Event()
    writing = threading.Event()

    def other_writer() -> None:  # keeps SQLite's write slot: every hold goes to the thread
        with runtime.db.write():
            writing.set()
            release.wait(30)

    async def all_at_once() -> tuple[list[Held | BaseException], int]:
        writer = hold_writer(runtime)
        holder = threading.Thread(target=other_writer)
        holder.start()
        writing.wait(30)
        holds = asyncio.gather(*(writer.hold(r) for r in batch), return_exceptions=True)
        await asyncio.sleep(0.05)
        release.set()
        results = await holds
        holder.join(30)
        return results, writer.transactions

    try:
        results, transactions = asyncio.run(all_at_once())
    finally:
        stop_hold_writer(runtime)
    assert 1 <= transactions < len(batch)  # taken by the writer's thread, several at a time
    assert sum(isinstance(r, Held) for r in results) == 10
    assert all(isinstance(r, BudgetExceeded) for r in results if not isinstance(r, Held))
    assert budget_usage(runtime, admin, budget.id)[0].reserved == pytest.approx(1.0)


def test_a_hold_taken_for_a_call_that_left_is_released(
    runtime: Runtime, admin: Principal, project_id: int, budget: Budget
) -> None:
    [request] = requests(runtime, CallContext(project_id=project_id), 0.5)

    async def leave_while_waiting() -> None:
        writer = hold_writer(runtime)
        with runtime.db.write() as uow:  # the writer waits for the database meanwhile
            uow.execute(select(BudgetRow).where(BudgetRow.id == budget.id).with_for_update())
            waiting = asyncio.ensure_future(writer.hold(request))
            await asyncio.sleep(0.05)
            waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0)

    try:
        asyncio.run(leave_while_waiting())
    finally:
        stop_hold_writer(runtime)
    deadline = time.monotonic() + 15
    while True:  # released by a thread of its own, a moment later
        [usage] = budget_usage(runtime, admin, budget.id)
        if usage.reserved == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (usage.reserved, usage.spent) == (0, 0)
    with runtime.db.read() as uow:
        statuses = uow.scalars(select(BudgetReservationRow.status)).all()
    assert statuses in ([], ["released"])


def test_a_hold_is_taken_on_the_event_loop_only_when_no_one_writes(
    runtime: Runtime, admin: Principal, project_id: int, budget: Budget
) -> None:
    first, second = requests(runtime, CallContext(project_id=project_id), 0.25, 0.25)
    release = threading.Event()
    writing = threading.Event()

    def other_writer() -> None:
        with runtime.db.write():
            writing.set()
            release.wait(30)

    async def hold_both() -> tuple[Held, Held, int, int]:
        writer = hold_writer(runtime)
        now = await writer.hold(first)
        by_thread_before = writer.transactions
        holder = threading.Thread(target=other_writer)
        holder.start()
        writing.wait(30)
        waiting = asyncio.ensure_future(writer.hold(second))  # the slot is taken: queued
        await asyncio.sleep(0.05)
        release.set()
        later = await waiting
        holder.join(30)
        return now, later, by_thread_before, writer.transactions

    try:
        now, later, before, after = asyncio.run(hold_both())
    finally:
        stop_hold_writer(runtime)
    assert isinstance(now, Held)
    assert isinstance(later, Held)
    if runtime.db.single_writer:
        assert (before, after) == (0, 1)  # the first on the event loop, the second by the thread
    else:
        assert (before, after) == (1, 2)  # PostgreSQL: always the thread's round trips
    assert budget_usage(runtime, admin, budget.id)[0].reserved == pytest.approx(0.5)


def test_a_batch_that_fails_holds_nothing_and_the_next_one_is_held(
    runtime: Runtime, admin: Principal, project_id: int, budget: Budget
) -> None:
    first, good = requests(runtime, CallContext(project_id=project_id), 0.25, 0.25)
    # Its details cannot be stored: the batch fails after its reads, in its writes.
    circular: dict[str, object] = {}
    circular["itself"] = circular
    broken = HoldRequest(good.context, good.estimate, good.budgets, {"model": circular})

    try:
        writer = hold_writer(runtime)
        asyncio.run(writer.hold(first))  # the budget's counter is there from now on
        # By the writer's thread, in its transaction, as under load.
        failed = asyncio.run(writer._hold_queued(broken))
        with runtime.db.write() as uow:  # the failed transaction locks nothing any more
            uow.execute(select(BudgetCounterRow.id).with_for_update(nowait=True)).all()
        held = asyncio.run(writer.hold(good))
    finally:
        stop_hold_writer(runtime)
    assert isinstance(failed, ValueError)  # circular reference
    assert isinstance(held, Held)
    assert budget_usage(runtime, admin, budget.id)[0].reserved == pytest.approx(0.5)
    assert stored_reservations(runtime) == 2
