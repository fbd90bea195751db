"""Trace queries with a million spans stored, on SQLite and PostgreSQL.

    python bench/traces.py            # 1,000,000 spans per database
    python bench/traces.py --quick    # 50,000 spans

Seeds a project with agent traces of 11 spans (the ingest benchmark's shape, spread over a
month), one trace of 5,000 spans, and one multi-agent session with handoffs; then times, over
HTTP against ``corral serve``: the latest 50 traces (target p95 <= 20 ms), the 5,000-span trace
tree (<= 200 ms) and the session's handoff graph (<= 100 ms), once the load is indexed and, on
PostgreSQL, vacuumed and analyzed (the steady state). Prints a table, then one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DEFAULT_POSTGRES,
    corral_server,
    percentile,
    postgres_available,
    print_table,
    scratch_postgres,
)

from corral.core.normalize import NormalizedSpan, normalize_spans
from corral.core.otlp import attributes_of
from corral.core.runtime import Runtime
from corral.core.span_index import index_span_text
from corral.core.span_store import record_spans
from corral.db import migrate
from corral.db.schema import ProjectRow
from corral.settings import Settings
from corral.testing.traces import TraceShape, agent_trace_request

START = datetime(2026, 1, 1, tzinfo=UTC)
BIG_TRACE = "b" * 32
GRAPH_SESSION = "handoff-session"
TARGETS = {"latest_50_p95_ms": 20.0, "tree_5000_p95_ms": 200.0, "session_graph_p95_ms": 100.0}


def seed(url: str, spans: int) -> dict[str, float]:
    """Fill a fresh database; returns seeding figures."""
    rt = Runtime.from_settings(Settings(database_url=url))
    migrate.upgrade(rt.db)
    now = datetime.now(UTC)
    with rt.db.write() as uow:
        project = ProjectRow(name="bench", description="", created_at=now, last_active_at=now)
        uow.add(project)
        uow.flush()
        project_id = project.id
    began = time.perf_counter()
    stored = 0
    shape = TraceShape(sessions=20_000, agent="support-bot")
    batch = 0
    month_ns = 30 * 24 * 3600 * 10**9
    batches = max(1, (spans - 6_000) // 550)
    while stored < spans - 6_000:
        start_ns = int(START.timestamp() * 10**9) + batch * month_ns // batches
        request = agent_trace_request(50, shape=shape, seed=batch, start_ns=start_ns)
        (group,) = request.resource_spans
        normalized, _ = normalize_spans(group, attributes_of(group.resource.attributes))
        record_spans(rt, [(project_id, normalized)])
        stored += len(normalized)
        batch += 1
    record_spans(rt, [(project_id, big_trace(5_000))])
    record_spans(rt, [(project_id, handoff_session())])
    stored += 5_000 + len(handoff_session())
    seconds = time.perf_counter() - began
    # What the span-search-index job does in the background as spans arrive, all at once here:
    # the pages are timed in the steady state, the index caught up.
    began = time.perf_counter()
    while index_span_text(rt):
        pass
    indexing = time.perf_counter() - began
    if rt.db.dialect == "postgresql":
        # After a bulk load, autovacuum soon vacuums and analyzes the new rows; timing queries
        # while it runs measures the vacuum. Run it now, as a bulk load should end.
        with rt.db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("VACUUM (ANALYZE)")
    rt.db.dispose()
    return {
        "spans": stored,
        "seed_seconds": seconds,
        "seed_spans_per_s": stored / seconds,
        "search_index_seconds": indexing,
    }


def _span(
    trace: str, span: int, parent: int | None, at: datetime, **fields: object
) -> NormalizedSpan:
    return NormalizedSpan(
        trace_id=trace,
        span_id=f"{span:016x}",
        parent_span_id=f"{parent:016x}" if parent else None,
        start_time=at,
        end_time=at + timedelta(milliseconds=20),
        **fields,  # type: ignore[arg-type]
    )


def big_trace(size: int) -> list[NormalizedSpan]:
    """One root, 50 agent steps, and their children: ``size`` spans in all."""
    at = START + timedelta(days=31)
    spans = [
        _span(
            BIG_TRACE,
            1,
            None,
            at,
            name="invoke_agent orchestrator",
            span_type="agent",
            agent_name="orchestrator",
            session_id="big-session",
        )
    ]
    steps = 50
    for step in range(steps):
        spans.append(
            _span(
                BIG_TRACE,
                2 + step,
                1,
                at + timedelta(milliseconds=step),
                name="invoke_agent worker",
                span_type="agent",
                agent_name="worker",
            )
        )
    index = 2 + steps
    while len(spans) < size:
        parent = 2 + (index % steps)
        kind = "tool" if index % 2 else "llm"
        spans.append(
            _span(
                BIG_TRACE,
                index,
                parent,
                at + timedelta(milliseconds=index),
                name=f"{kind} {index}",
                span_type=kind,
                tool_name="search" if kind == "tool" else None,
                model="gpt-4o-mini" if kind == "llm" else None,
                input_tokens=100,
                output_tokens=10,
            )
        )
        index += 1
    return spans


def handoff_session() -> list[NormalizedSpan]:
    """A session of 20 traces where a planner hands work to a researcher and a writer."""
    rng = random.Random(7)
    spans: list[NormalizedSpan] = []
    agents = ["planner", "researcher", "writer"]
    for trace_number in range(20):
        trace = f"{0xC0FFEE00 + trace_number:032x}"
        at = START + timedelta(days=31, hours=1, minutes=trace_number)
        spans.append(
            _span(
                trace,
                1,
                None,
                at,
                name="invoke_agent planner",
                span_type="agent",
                agent_name="planner",
                session_id=GRAPH_SESSION,
            )
        )
        span_id = 2
        for step in range(8):
            target = agents[1 + step % 2]
            agent_id = span_id
            spans.append(
                _span(
                    trace,
                    agent_id,
                    1,
                    at + timedelta(seconds=step),
                    name=f"invoke_agent {target}",
                    span_type="agent",
                    agent_name=target,
                )
            )
            span_id += 1
            for _ in range(2):
                spans.append(
                    _span(
                        trace,
                        span_id,
                        agent_id,
                        at + timedelta(seconds=step, milliseconds=span_id),
                        name="execute_tool",
                        span_type="tool",
                        tool_name=rng.choice(["search", "fetch", "save"]),
                    )
                )
                span_id += 1
    return spans


def timed(http: httpx2.Client, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = http.get(path)
        times.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return times


def measure(url: str, runs: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with (
        corral_server(url) as server,
        httpx2.Client(
            base_url=server.url, headers={"authorization": f"Bearer {server.admin_key}"}, timeout=60
        ) as http,
    ):
        tree = http.get(f"/v1/projects/bench/traces/{BIG_TRACE}").json()
        assert len(tree["spans"]) == 5_000, len(tree["spans"])
        graph = http.get(f"/v1/projects/bench/handoff-graph?session={GRAPH_SESSION}").json()
        results["session_graph_spans"] = graph["spans_examined"]
        queries = {
            "latest_50": ("/v1/projects/bench/traces?limit=50", runs),
            "latest_50_agent": ("/v1/projects/bench/traces?limit=50&agent=support-bot", runs),
            "sessions_50": ("/v1/projects/bench/sessions?limit=50", runs),
            "tree_5000": (f"/v1/projects/bench/traces/{BIG_TRACE}", max(5, runs // 10)),
            "session_graph": (
                f"/v1/projects/bench/handoff-graph?session={GRAPH_SESSION}",
                runs // 2,
            ),
            "session_timeline_200": (
                f"/v1/projects/bench/sessions/{GRAPH_SESSION}/timeline?limit=200",
                runs // 2,
            ),
        }
        for name, (path, count) in queries.items():
            timed(http, path, 3)  # warm
            times = timed(http, path, count)
            results[f"{name}_p50_ms"] = percentile(times, 0.5)
            results[f"{name}_p95_ms"] = percentile(times, 0.95)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 spans, fewer repetitions.")
    parser.add_argument("--spans", type=int, help="Spans to store (default 1,000,000).")
    parser.add_argument("--runs", type=int, help="Repetitions per query (default 200).")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CORRAL_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="Comma-separated.")
    args = parser.parse_args()
    spans = args.spans or (50_000 if args.quick else 1_000_000)
    runs = args.runs or (40 if args.quick else 200)
    figures: dict[str, object] = {"bench": "traces", "quick": args.quick, "targets": TARGETS}
    rows = []
    for database in args.databases.split(","):
        if database == "postgresql" and not postgres_available(args.postgres_url):
            figures.setdefault("notes", []).append("PostgreSQL not reachable; skipped")  # type: ignore[union-attr]
            continue
        if database == "sqlite":
            scratch = tempfile.TemporaryDirectory(prefix="corral-bench-traces-")
            context = None
            url = f"sqlite:///{scratch.name}/corral.db"
        else:
            context = scratch_postgres(args.postgres_url)
            url = context.__enter__()
        try:
            seeded = seed(url, spans)
            results = {**seeded, **measure(url, runs)}
        finally:
            if context is not None:
                context.__exit__(None, None, None)
            else:
                scratch.cleanup()
        figures[database] = results
        for key in (
            "latest_50",
            "latest_50_agent",
            "sessions_50",
            "tree_5000",
            "session_graph",
            "session_timeline_200",
        ):
            target = TARGETS.get(f"{key}_p95_ms")
            rows.append(
                (
                    database,
                    key,
                    f"{results[f'{key}_p50_ms']:.1f}",
                    f"{results[f'{key}_p95_ms']:.1f}",
                    f"<= {target:.0f}" if target else "-",
                )
            )
        print(
            f"{database}: stored {seeded['spans']:,} spans in {seeded['seed_seconds']:.0f} s "
            f"({seeded['seed_spans_per_s']:,.0f} spans/s in-process)",
            file=sys.stderr,
        )
    print_table(
        f"Trace queries over HTTP with {spans:,} spans stored",
        rows,
        ("database", "query", "p50 ms", "p95 ms", "target p95"),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
