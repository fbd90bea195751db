"""Console pages' server time with 1,000,000 spans and 100,000 memory items stored.

    python bench/console.py                 # SQLite, 1,000,000 spans, 100,000 memory items
    python bench/console.py --quick         # 50,000 spans, 5,000 memory items
    python bench/console.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Seeds through the same bulk paths as the other benchmarks (``bench/traces.py`` for spans: agent
traces over a month, a 5,000-span trace and a multi-agent session; ``bench/memory.py`` for memory
items), adds findings, budgets and alerts, then signs a workspace administrator in and times each
console page in-process over ASGI (the app's own request handling, templates included; no
network). A page that this build does not have (404) is reported as skipped. Target: every page
p95 <= 300 ms. Prints a table, then one line of JSON.

Add a page with ``--page NAME=PATH`` or by extending ``PAGES``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile, print_table, scratch_postgres
from fastapi.testclient import TestClient
from memory import Corpus, load
from traces import BIG_TRACE, GRAPH_SESSION, START, seed

from corral.core import logins, users
from corral.core.access import Principal
from corral.core.agents import create_agent
from corral.core.alerts import raise_alert
from corral.core.bootstrap import bootstrap_workspace
from corral.core.budgets import create_budget
from corral.core.clock import ManualClock
from corral.core.keys import authenticate
from corral.core.members import grant_agent
from corral.core.runtime import Runtime
from corral.db.schema import FindingRow, ProjectRow
from corral.schemas.access import Role
from corral.schemas.budgets import BudgetCreate
from corral.schemas.tenancy import AgentCreate, UserCreate
from corral.server.app import create_app
from corral.settings import Settings

TARGET_P95_MS = 300.0
NOW = START + timedelta(days=32)
"""The seeded month ends a day before this: time-ranged pages see all of it."""
PASSWORD = "bench console password"
PAGES: dict[str, str] = {
    "overview": "/console/",
    "traces": "/console/traces?project=bench",
    "traces_filtered": "/console/traces?project=bench&agent=support-bot&status=ok&range=7d",
    "traces_page_2": "",  # filled in with the cursor of the first page
    "traces_text_search": "/console/traces?project=bench&q=refund",
    "traces_text_search_7d": "/console/traces?project=bench&q=order_id&range=7d",
    "traces_text_search_rare_7d": "/console/traces?project=bench&q=no-such-text&range=7d",
    "trace_5000_spans": f"/console/traces/bench/{BIG_TRACE}",
    "trace_5000_spans_all": f"/console/traces/bench/{BIG_TRACE}?spans=all",
    "span": f"/console/traces/bench/{BIG_TRACE}/spans/{2:016x}",
    "sessions": "/console/sessions?project=bench",
    "session_graph_timeline": f"/console/sessions/bench/{GRAPH_SESSION}",
    "costs_30d": "/console/costs",
    "costs_90d": "/console/costs?days=90",
    "findings": "/console/findings?project=bench",
    "findings_open_critical": "/console/findings?project=bench&status=open&severity=critical",
    "finding": "/console/findings/bench/1",
    "alerts": "/console/findings/alerts",
    "memory": "/console/memory",
    "memory_project": "/console/memory/bench",
    "memory_search": "/console/memory/bench?q=kalo",
    "memory_item": "/console/memory/bench/items/1",
    "agents": "/console/agents",
    "agent": "/console/agents/support-bot",
    "audit": "/console/audit",
    "settings": "/console/settings",
}


def seed_rest(rt: Runtime, memory_items: int) -> tuple[dict[str, float], Principal]:
    """Memory items, findings, budgets and alerts; returns seeding figures."""
    key = bootstrap_workspace(rt)
    assert key is not None, "the database must be fresh"
    admin = authenticate(rt, key)
    began = time.perf_counter()
    load(rt, admin, ["bench"], memory_items, Corpus())
    memory_seconds = time.perf_counter() - began
    with rt.db.write() as uow:
        project = uow.query(ProjectRow).filter_by(name="bench").one()
        for number in range(2_000):
            moment = START + timedelta(minutes=20 * number)
            uow.add(
                FindingRow(
                    project_id=project.id,
                    scope=f"session-{number}",
                    key=f"tool_loop:search:{number}",
                    status=("open", "acknowledged", "resolved")[number % 3],
                    type="tool_loop",
                    severity=("warning", "critical")[number % 2],
                    agent_name="support-bot",
                    session_id=f"session-{number}",
                    trace_id=BIG_TRACE,
                    step=3,
                    step_span_id=f"{60 + number % 50:016x}",
                    explanation="support-bot called search with the same arguments 3 times.",
                    span_ids=[f"{60 + (number + i) % 50:016x}" for i in range(3)],
                    wasted_tokens=220,
                    wasted_cost_usd=0.0004,
                    details={"tool": "search"},
                    first_detected_at=moment,
                    updated_at=moment,
                )
            )
        for number in range(200):
            raise_alert(
                uow,
                kind="finding",
                severity="warning",
                key=f"finding:{number + 1}",
                title=f"tool loop by support-bot in session session-{number}",
                body="support-bot called search with the same arguments 3 times.",
                details={"finding_id": number + 1},
                project_id=project.id,
                now=NOW - timedelta(minutes=number),
            )
    # The agent the seeded traces name, registered: the overview and agent pages show its status.
    create_agent(rt, admin, AgentCreate(name="support-bot", description="Answers tickets"))
    grant_agent(rt, admin, "bench", "support-bot", Role.MEMBER)
    for scope, window in (("project", "month"), ("agent", "day")):
        create_budget(
            rt,
            admin,
            BudgetCreate(
                name=f"bench {scope}",
                scope=scope,
                project="bench",
                limit=100.0,
                window=window,
                thresholds=[50, 80],
            ),
        )
    return {"memory_items": memory_items, "memory_seconds": memory_seconds}, admin


def sign_in(rt: Runtime, admin: Principal) -> str:
    """A workspace administrator's console session cookie."""
    user = users.create_user(rt, admin, UserCreate(email="bench@example.com", workspace_admin=True))
    invite = logins.create_invite(rt, admin, user.id, 24)
    logins.accept_invite(rt, invite.token, PASSWORD)
    return logins.login(rt, "bench@example.com", PASSWORD, address="127.0.0.1").cookie


def time_pages(
    client: TestClient, pages: dict[str, str], runs: int
) -> dict[str, dict[str, float] | str]:
    results: dict[str, dict[str, float] | str] = {}
    for name, path in pages.items():
        if not path:
            continue
        first = client.get(path)
        if first.status_code == 404 and "page_not_found" in first.text:
            results[name] = "not in this build"
            continue
        if first.status_code != 200:
            raise SystemExit(f"{name} ({path}) answered {first.status_code}:\n{first.text[:800]}")
        for _ in range(2):
            client.get(path)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        results[name] = {
            "p50_ms": round(percentile(times, 0.5), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
            "bytes": len(first.content),
            "runs": len(times),
        }
    return results


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url and url.startswith("postgresql"):
        with scratch_postgres(url) as scratch:
            yield scratch
    else:
        with tempfile.TemporaryDirectory(prefix="corral-bench-console-") as home:
            yield f"sqlite:///{home}/corral.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 spans, 5,000 memory items.")
    parser.add_argument("--spans", type=int, help="Spans to store (default 1,000,000).")
    parser.add_argument("--memory-items", type=int, help="Memory items (default 100,000).")
    parser.add_argument("--runs", type=int, help="Requests timed per page (default 60).")
    parser.add_argument(
        "--database-url",
        help="A PostgreSQL server URL: a scratch database is created on it and dropped after. "
        "Default: a temporary SQLite file.",
    )
    parser.add_argument(
        "--page", action="append", default=[], metavar="NAME=PATH", help="Another page to time."
    )
    args = parser.parse_args()
    spans = args.spans or (50_000 if args.quick else 1_000_000)
    items = args.memory_items or (5_000 if args.quick else 100_000)
    runs = args.runs or (20 if args.quick else 60)
    pages = dict(PAGES)
    pages.update(dict(p.split("=", 1) for p in args.page))
    backend = "postgresql" if (args.database_url or "").startswith("postgresql") else "sqlite"
    with tempfile.TemporaryDirectory() as home, database(args.database_url) as url:
        began = time.perf_counter()
        seeded: dict[str, float] = seed(url, spans)
        rt = Runtime.from_settings(
            Settings(home=Path(home), database_url=url, log_level="warning"), clock=ManualClock(NOW)
        )
        try:
            figures, admin = seed_rest(rt, items)
            seeded.update(figures)
            seeded["seed_total_seconds"] = round(time.perf_counter() - began, 1)
            print(f"seeded in {seeded['seed_total_seconds']:.0f} s", file=sys.stderr)
            cookie = sign_in(rt, admin)
            # Like `corral serve`: the start-up heap is frozen (see corral.server.heap).
            app = create_app(runtime=rt, freeze_heap=True)
            with TestClient(app, raise_server_exceptions=True) as client:
                client.cookies.set(logins.SESSION_COOKIE, cookie)
                first = client.get("/console/traces?project=bench")
                marker = 'href="/console/traces?'
                cursor_links = [
                    part.split('"', 1)[0]
                    for part in first.text.split(marker)[1:]
                    if "cursor=" in part.split('"', 1)[0]
                ]
                if cursor_links:
                    pages["traces_page_2"] = "/console/traces?" + cursor_links[0].replace(
                        "&amp;", "&"
                    )
                results = time_pages(client, pages, runs)
        finally:
            rt.db.dispose()
    rows: list[tuple[str, ...]] = []
    for name, timing in results.items():
        if isinstance(timing, str):
            rows.append((name, "-", "-", "-", timing))
            continue
        verdict = "ok" if timing["p95_ms"] <= TARGET_P95_MS else "OVER"
        rows.append(
            (
                name,
                f"{timing['p50_ms']:.1f}",
                f"{timing['p95_ms']:.1f}",
                f"{timing['bytes'] / 1024:.0f}",
                verdict,
            )
        )
    print_table(
        f"Console pages on {backend}: {seeded['spans']:,.0f} spans, {items:,} memory items "
        f"(server time in-process, target p95 <= {TARGET_P95_MS:.0f} ms)",
        rows,
        ("page", "p50 ms", "p95 ms", "KiB", "target"),
    )
    timed = [f for f in results.values() if isinstance(f, dict)]
    print(
        json.dumps(
            {
                "bench": "console",
                "database": backend,
                "quick": args.quick,
                "seed": seeded,
                "target_p95_ms": TARGET_P95_MS,
                "pages": results,
                "worst_p95_ms": max((f["p95_ms"] for f in timed), default=None),
                "all_within_target": all(f["p95_ms"] <= TARGET_P95_MS for f in timed),
            }
        )
    )


if __name__ == "__main__":
    main()
