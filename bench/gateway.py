"""Gateway overhead: chat completions through Corral against the fake provider called directly.

    python bench/gateway.py            # 2,000 calls per arm and concurrency, SQLite and PostgreSQL
    python bench/gateway.py --quick    # 300 calls per arm, SQLite only

The fake provider (``corral fake-llm``, its own process) answers after ``--latency-ms``. The
anchor is the same call sent straight to it, in the same run, at the same concurrency: the
difference of the two latency percentiles is what the gateway adds. Calls go through the gateway
the way an agent's would: an agent key, a session header, an agent budget and a project budget to
hold on, the call recorded as a span with its cost and judged by the detectors. Each concurrent
worker plays an agent working through sessions of 20 calls. Arms alternate (direct, gateway,
gateway, direct) so that drift on a shared machine falls on both.

Prints a table, then one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DEFAULT_POSTGRES,
    Server,
    corral_server,
    free_port,
    median,
    percentile,
    postgres_available,
    print_table,
    scratch_postgres,
    wait_http,
)

import corral

BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": 64,
    "messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Summarise the ticket in one line."},
    ],
}


@dataclass
class Arm:
    """Latencies of one arm (direct or through the gateway) at one concurrency."""

    latencies_ms: list[float]
    seconds: float
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


@dataclass
class Row:
    database: str
    concurrency: int
    calls: int
    direct_p50_ms: float
    direct_p99_ms: float
    gateway_p50_ms: float
    gateway_p99_ms: float
    added_p50_ms: float
    added_p99_ms: float
    direct_rps: float
    gateway_rps: float
    errors: int


@contextmanager
def fake_provider(latency_ms: float) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="corral-bench-fake-") as scratch:
        log_path = Path(scratch) / "fake.log"
        with log_path.open("wb") as log:
            command = [sys.executable, "-m", "corral.cli", "fake-llm", "--port", str(port)]
            process = subprocess.Popen(
                [*command, "--latency-ms", str(latency_ms)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                wait_http(f"{url}/_fake/requests", process, log_path)
                yield url
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(30)


def prepare(server: Server, fake_url: str) -> str:
    """Project, agent, key, provider and budgets; returns the agent's key."""
    with corral.Client(url=server.url, api_key=server.admin_key) as admin:
        admin.projects.create("bench")
        admin.agents.create("bench-agent")
        admin.projects.grant_agent("bench", "bench-agent")
        admin.providers.add("fake", kind="openai", base_url=f"{fake_url}/v1", models=["*"])
        admin.budgets.create("agent", scope="agent", subject="bench-agent", limit=1_000_000)
        admin.budgets.create("project", scope="project", project="bench", limit=1_000_000)
        return admin.keys.create("bench", agent="bench-agent", projects=["bench"]).secret


SESSION_CALLS = 20
"""Calls per agent session: each concurrent worker plays one agent working through sessions."""


async def run_arm(url: str, headers: dict[str, str], calls: int, concurrency: int) -> Arm:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    remaining = calls
    prefix = uuid.uuid4().hex[:8]

    async with httpx2.AsyncClient(limits=limits, timeout=120) as client:

        async def worker(number: int) -> None:
            nonlocal remaining, errors
            done = 0
            while remaining > 0:
                remaining -= 1
                session = f"{prefix}-{number}-{done // SESSION_CALLS}"
                done += 1
                started = time.perf_counter()
                response = await client.post(
                    url, json=BODY, headers={**headers, "x-corral-session": session}
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        seconds = time.perf_counter() - began
    return Arm(latencies, seconds, errors)


def measure(
    database: str, server: Server, fake_url: str, calls: int, concurrencies: list[int]
) -> list[Row]:
    key = prepare(server, fake_url)
    direct = (f"{fake_url}/v1/chat/completions", {"authorization": "Bearer sk-fake"})
    gateway = (
        f"{server.url}/v1/chat/completions",
        {"authorization": f"Bearer {key}"},
    )
    for url, headers in (direct, gateway):  # warm connections, caches and the price table
        asyncio.run(run_arm(url, headers, 100, 4))
    rows = []
    for concurrency in concurrencies:
        half = max(1, calls // 2)
        arms: dict[str, list[Arm]] = {"direct": [], "gateway": []}
        for name in ("direct", "gateway", "gateway", "direct"):
            url, headers = direct if name == "direct" else gateway
            arms[name].append(asyncio.run(run_arm(url, headers, half, concurrency)))
        d = [x for a in arms["direct"] for x in a.latencies_ms]
        g = [x for a in arms["gateway"] for x in a.latencies_ms]
        direct_seconds = sum(a.seconds for a in arms["direct"])
        gateway_seconds = sum(a.seconds for a in arms["gateway"])
        rows.append(
            Row(
                database=database,
                concurrency=concurrency,
                calls=len(g),
                direct_p50_ms=median(d),
                direct_p99_ms=percentile(d, 0.99),
                gateway_p50_ms=median(g),
                gateway_p99_ms=percentile(g, 0.99),
                added_p50_ms=median(g) - median(d),
                added_p99_ms=percentile(g, 0.99) - percentile(d, 0.99),
                direct_rps=len(d) / direct_seconds,
                gateway_rps=len(g) / gateway_seconds,
                errors=sum(a.errors for v in arms.values() for a in v),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 calls per arm, SQLite only.")
    parser.add_argument("--calls", type=int, help="Calls per arm and concurrency (default 2,000).")
    parser.add_argument("--concurrency", default="1,32,128", help="Comma-separated.")
    parser.add_argument(
        "--latency-ms", type=float, default=50, help="The fake provider's answer delay."
    )
    parser.add_argument("--workers", type=int, default=1, help="Corral server worker processes.")
    parser.add_argument("--databases", help="Comma-separated (default sqlite,postgresql).")
    parser.add_argument(
        "--no-durable-writes",
        action="store_true",
        help="Run Corral with CORRAL_GATEWAY_DURABLE_WRITES=false (no wait for the disk flush).",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CORRAL_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args()
    calls = args.calls or (300 if args.quick else 2_000)
    databases = (args.databases or ("sqlite" if args.quick else "sqlite,postgresql")).split(",")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    rows: list[Row] = []
    notes: list[str] = []
    with fake_provider(args.latency_ms) as fake_url:
        for database in databases:
            server_env = {"CORRAL_WORKERS": str(args.workers)} if args.workers > 1 else {}
            if args.no_durable_writes:
                server_env["CORRAL_GATEWAY_DURABLE_WRITES"] = "false"
            if database == "sqlite":
                with tempfile.TemporaryDirectory(prefix="corral-bench-db-") as scratch:
                    url = f"sqlite:///{scratch}/corral.db"
                    with corral_server(url, **server_env) as server:
                        rows += measure(database, server, fake_url, calls, concurrencies)
            elif database == "postgresql":
                if not postgres_available(args.postgres_url):
                    notes.append(f"PostgreSQL not reachable at {args.postgres_url}; skipped")
                    continue
                with (
                    scratch_postgres(args.postgres_url) as url,
                    corral_server(url, **server_env) as server,
                ):
                    rows += measure(database, server, fake_url, calls, concurrencies)
    print_table(
        f"Gateway overhead, fake provider latency {args.latency_ms:g} ms, {args.workers} worker(s)"
        + (", durable writes off" if args.no_durable_writes else ""),
        [
            (
                r.database,
                str(r.concurrency),
                str(r.calls),
                f"{r.direct_p50_ms:.1f} / {r.direct_p99_ms:.1f}",
                f"{r.gateway_p50_ms:.1f} / {r.gateway_p99_ms:.1f}",
                f"{r.added_p50_ms:+.2f}",
                f"{r.added_p99_ms:+.2f}",
                f"{r.direct_rps:,.0f}",
                f"{r.gateway_rps:,.0f}",
                str(r.errors),
            )
            for r in rows
        ],
        (
            "database",
            "concurrency",
            "calls",
            "direct p50/p99 ms",
            "gateway p50/p99 ms",
            "added p50 ms",
            "added p99 ms",
            "direct rps",
            "gateway rps",
            "errors",
        ),
    )
    for note in notes:
        print(f"note: {note}")
    figures = {
        "bench": "gateway",
        "quick": args.quick,
        "latency_ms": args.latency_ms,
        "workers": args.workers,
        "durable_writes": not args.no_durable_writes,
        "rows": [asdict(r) for r in rows],
        "notes": notes,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
