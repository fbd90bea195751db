"""What a transaction of budget holds costs, by the number of calls it holds.

    python bench/holds.py                 # SQLite and PostgreSQL, 1, 16 and 64 holds per batch
    python bench/holds.py --quick         # fewer rounds, SQLite only
    python bench/holds.py --pause-ms 500  # each transaction after half a second idle

The gateway holds the calls that arrive together in one transaction
(:mod:`corral.core.gateway_holds`); on PostgreSQL the holds' thread shares the server's
interpreter lock with the event loop, so what the transaction costs the interpreter is what the
loop waits for. In this process, on one connection, each round holds a batch of calls — each
of its own session, guarded against a halt, on a project budget and a workspace budget — in
one transaction as the hold writer does (on PostgreSQL in one pipeline, the commit sent with the
writes), and times its CPU (this thread's) and wall time. Prints medians, per transaction and
per hold, then one line of JSON.

With ``--pause-ms`` each transaction follows a pause, as a call's hold does when calls come one
at a time (at concurrency 1 the gateway waits half a second for each answer): caches are then
cold and the database server asleep, and the same transaction costs several times as much.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DEFAULT_POSTGRES,
    median,
    postgres_available,
    print_table,
    scratch_postgres,
    scratch_runtime,
)

from corral.core.budget_holds import Guard, HoldRequest, hold_many
from corral.core.budgets import Amounts, CallContext, create_budget, project_budgets
from corral.core.detection.breaker import HALTED_SESSIONS
from corral.core.gateway_holds import give_back_hold_connection, hold_connection, hold_transaction
from corral.core.projects import create_project
from corral.core.runtime import Runtime
from corral.db.prebuilt import Driver
from corral.schemas.budgets import BudgetCreate
from corral.schemas.tenancy import ProjectCreate

HOLD = Amounts(1_000_000, 0)
"""A thousandth of a dollar: budgets of a billion dollars never refuse one."""


def batch_of(rt: Runtime, project_id: int, size: int, round_: int) -> list[HoldRequest]:
    with rt.db.read() as uow:
        budgets = project_budgets(uow, project_id)
    sessions = [f"session-{round_}-{i}" for i in range(size)]
    return [
        HoldRequest(
            CallContext(project_id=project_id, session=session),
            HOLD,
            budgets,
            {"model": "bench"},
            Guard(HALTED_SESSIONS, {"project_id": project_id}, session),
        )
        for session in sessions
    ]


def time_batches(
    rt: Runtime, project_id: int, size: int, rounds: int, pause: float = 0.0
) -> tuple[float, float]:
    """Median CPU and wall milliseconds of a transaction holding ``size`` calls, each after
    ``pause`` seconds idle."""
    connection = hold_connection(rt.db)
    driver = Driver(connection.driver_connection, rt.db.engine.dialect)
    cpu: list[float] = []
    wall: list[float] = []
    try:
        for round_ in range(rounds + rounds // 10):  # the first tenth warms up, uncounted
            batch = batch_of(rt, project_id, size, round_)
            time.sleep(pause)
            began, began_cpu = time.perf_counter(), time.thread_time()
            with hold_transaction(rt.db, connection, driver):
                hold_many(driver, batch, rt.clock.now())
            if round_ >= rounds // 10:
                cpu.append((time.thread_time() - began_cpu) * 1000)
                wall.append((time.perf_counter() - began) * 1000)
    finally:
        give_back_hold_connection(connection)
    return median(cpu), median(wall)


def measure(
    database: str, url: str | None, sizes: list[int], rounds: int, pause: float
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with scratch_runtime(url) as (rt, admin, _key):
        project_id = create_project(rt, admin, ProjectCreate(name="bench")).id
        create_budget(
            rt, admin, BudgetCreate(name="p", scope="project", project="bench", limit=1e9)
        )
        create_budget(rt, admin, BudgetCreate(name="w", scope="workspace", limit=1e9))
        for size in sizes:
            cpu, wall = time_batches(rt, project_id, size, rounds, pause)
            rows.append(
                {
                    "database": database,
                    "holds_per_transaction": size,
                    "cpu_ms": round(cpu, 3),
                    "wall_ms": round(wall, 3),
                    "cpu_ms_per_hold": round(cpu / size, 3),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer rounds, SQLite only.")
    parser.add_argument(
        "--sizes", default="1,16,64", help="Holds per transaction, comma-separated."
    )
    parser.add_argument("--rounds", type=int, help="Transactions timed per size (default 300).")
    parser.add_argument("--databases", help="Comma-separated (default sqlite,postgresql).")
    parser.add_argument(
        "--pause-ms",
        type=float,
        default=0.0,
        help="Idle time before each transaction (default 0: back to back).",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CORRAL_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args()
    if args.pause_ms < 0:
        parser.error("--pause-ms must not be negative")
    sizes = [int(s) for s in args.sizes.split(",")]
    rounds = args.rounds or (50 if args.quick else 300)
    pause = args.pause_ms / 1000
    databases = (args.databases or ("sqlite" if args.quick else "sqlite,postgresql")).split(",")
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    for database in databases:
        if database == "sqlite":
            rows += measure(database, None, sizes, rounds, pause)
        elif not postgres_available(args.postgres_url):
            notes.append(f"PostgreSQL not reachable at {args.postgres_url}; skipped")
        else:
            with scratch_postgres(args.postgres_url) as url:
                rows += measure(database, url, sizes, rounds, pause)
    print_table(
        f"Budget holds per transaction, median of {rounds} transactions"
        + (f", each after {args.pause_ms:g} ms idle" if pause else ""),
        [
            (
                str(r["database"]),
                str(r["holds_per_transaction"]),
                f"{r['cpu_ms']:.3f}",
                f"{r['wall_ms']:.3f}",
                f"{r['cpu_ms_per_hold']:.3f}",
            )
            for r in rows
        ],
        ("database", "holds", "CPU ms", "wall ms", "CPU ms per hold"),
    )
    for note in notes:
        print(f"note: {note}")
    print(
        json.dumps(
            {
                "bench": "holds",
                "quick": args.quick,
                "rounds": rounds,
                "pause_ms": args.pause_ms,
                "rows": rows,
                "notes": notes,
            }
        )
    )


if __name__ == "__main__":
    main()
