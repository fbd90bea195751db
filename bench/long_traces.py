"""Storing the next export of a long-running trace, as the trace grows.

    python bench/long_traces.py            # up to 50,000 spans stored in the trace
    python bench/long_traces.py --quick    # up to 10,000

An agent that runs for hours exports its trace in batches as spans end (the OpenTelemetry SDK's
batch processor sends up to 512 at a time), so most exports continue a trace already stored.
This grows one trace by 512-span batches through the span store, as OTLP ingest does, and at
each size times the next batches (best of three, in milliseconds): the cost of an export should
not grow with what its trace already holds. On SQLite the batches are written from the write
process, as under ``corral serve``; on PostgreSQL too when a server answers. Prints a table,
then one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DEFAULT_POSTGRES,
    postgres_available,
    print_table,
    scratch_postgres,
    scratch_runtime,
)

from corral.core.projects import create_project
from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.schemas.tenancy import ProjectCreate
from corral.testing.traces import long_trace_steps

BATCH = 512


def measure(database_url: str | None, sizes: list[int]) -> list[float]:
    """Best of three next-batch times (ms) with each of ``sizes`` spans stored in the trace."""
    with scratch_runtime(database_url) as (rt, admin, _):
        rt.db.start_write_process()  # SQLite only: as under corral serve
        project = create_project(rt, admin, ProjectCreate(name="long"))
        stored, best = 0, []
        for size in sizes:
            while stored < size:
                stored += _store(rt, project.id, stored)
            times = []
            for _ in range(3):
                began = time.perf_counter()
                stored += _store(rt, project.id, stored)
                times.append((time.perf_counter() - began) * 1000)
            best.append(min(times))
        return best


def _store(rt: Runtime, project_id: int, stored: int) -> int:
    (batch,) = record_spans(rt, [(project_id, long_trace_steps(stored + 1, BATCH))])
    assert len(batch.spans) == BATCH, "every span of the batch is new"
    return BATCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Up to 10,000 spans.")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--databases", default="sqlite,postgresql", help="Comma-separated.")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 50_000]
    results: dict[str, list[float]] = {}
    for database in args.databases.split(","):
        if database == "sqlite":
            results[database] = measure(None, sizes)
        elif postgres_available(args.postgres_url):
            with scratch_postgres(args.postgres_url) as url:
                results[database] = measure(url, sizes)
        else:
            print(f"PostgreSQL not reachable at {args.postgres_url}: skipped")
    print_table(
        f"Next {BATCH}-span export of one trace, by spans already stored in it (ms, best of 3)",
        [(db, *(f"{t:.1f}" for t in times)) for db, times in results.items()],
        ("database", *(f"{size:,} stored" for size in sizes)),
    )
    print(
        json.dumps(
            {
                "bench": "long_traces",
                "quick": args.quick,
                "batch": BATCH,
                "stored": sizes,
                "next_batch_ms": results,
            }
        )
    )


if __name__ == "__main__":
    main()
