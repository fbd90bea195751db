"""Gateway overhead: chat completions through Corral against the fake provider called directly.

    python bench/gateway.py                    # SQLite and PostgreSQL, concurrency 1, 32, 128
    python bench/gateway.py --quick            # half the calls, SQLite only
    python bench/gateway.py --latency-ms 50    # saturation: 20 times the calls per second

The fake provider (``corral fake-llm``, its own process) answers after ``--latency-ms``. The
anchor is the same call sent straight to it, in the same run, at the same concurrency: the
difference of the two latency percentiles is what the gateway adds. Calls go through the gateway
the way an agent's would: an agent key, a session header, an agent budget and a project budget to
hold on, the call recorded as a span with its cost and judged by the detectors. Each concurrent
worker plays an agent working through sessions of 20 calls. Arms alternate (direct, gateway,
gateway, direct) so that drift on a shared machine falls on both.

The fake answers after 500 ms by default, about the shortest a real completion takes (a short
one takes 0.5 to 1.5 s): concurrency 128 then offers 256 calls a second, what 128 agents
waiting on a real model would. With 50 ms answers the same concurrency offers 2,560 calls a
second, which on a small machine measures how the load generator, the fake provider and Corral
share its cores rather than what Corral adds to a call; ``--latency-ms 50`` still prints that
figure, as a measure of saturation. Each arm makes 20 calls per worker (at least 200, for a p99
at concurrency 1): about 100 s per arm at concurrency 1, 10 s at 128.

The load generator is a lean keep-alive HTTP/1.1 client (``_lean_http.py``, on uvloop when
installed) that costs about 0.05 ms of CPU per call, so that one Python process can drive both
arms without being what saturates first.

Server CPU per call is what Corral's processes used over the gateway arms, the recording and
judging of their last calls included, beyond what they use idle over the direct arms, divided by
the calls: what one call costs the machine, whatever the concurrency.

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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

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
from _lean_http import LeanClient, new_event_loop

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
    errors: Counter[str]
    """Failed calls by status and error code."""

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
    error_codes: dict[str, int]
    server_cpu_ms_per_call: float
    """CPU time the server's processes used per gateway call: serving it, recording it and
    judging its span (measured until the recording of the arm's last calls is done), beyond what
    they use idle (measured over the direct arms)."""


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


DEFAULT_LATENCY_MS = 500.0
"""A short real completion's answer time (see the module's docstring)."""
ARM_PAUSE_SECONDS = 1.0
SESSION_CALLS = 20
"""Calls per agent session: each concurrent worker plays one agent working through sessions."""


async def run_arm(
    url: str, headers: dict[str, str], calls: int, concurrency: int, spread: float
) -> Arm:
    """``calls`` calls from ``concurrency`` workers, each on a keep-alive connection opened
    before the clock starts. The workers start one after another over ``spread`` seconds (one
    answer time), as agents that were not all started at the same instant: otherwise every
    worker's first call would arrive in one burst, which is no steady state of either arm."""
    client = LeanClient(url, headers)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    remaining = calls
    prefix = uuid.uuid4().hex[:8]
    body = json.dumps(BODY).encode()
    await client.open(concurrency)

    async def worker(number: int) -> None:
        nonlocal remaining, errors
        done = 0
        await asyncio.sleep(spread * number / concurrency)
        while remaining > 0:
            remaining -= 1
            session = f"{prefix}-{number}-{done // SESSION_CALLS}"
            done += 1
            started = time.perf_counter()
            status, answer = await client.post(body, {"x-corral-session": session})
            elapsed = (time.perf_counter() - started) * 1000
            if status == 200:
                latencies.append(elapsed)
            else:
                errors[f"{status} {_error_code(answer)}"] += 1

    began = time.perf_counter()
    try:
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    finally:
        client.close()
    seconds = time.perf_counter() - began
    return Arm(latencies, seconds, errors)


def _error_code(answer: bytes) -> str:
    try:
        return str(json.loads(answer)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


def arm(
    url: str, headers: dict[str, str], calls: int, concurrency: int, spread: float = 0.0
) -> Arm:
    """:func:`run_arm` on an event loop of its own, after a pause that lets the server finish
    what the previous arm left it (recording, detection): that is no part of this arm."""
    time.sleep(ARM_PAUSE_SECONDS)
    loop = new_event_loop()
    try:
        return loop.run_until_complete(run_arm(url, headers, calls, concurrency, spread))
    finally:
        loop.close()


def calls_per_arm(concurrency: int, fixed: int | None, quick: bool) -> int:
    """Enough calls for a p99 at concurrency 1, and rounds enough at higher concurrency for
    the arms to reach their steady state; ``fixed`` (``--calls``) overrides."""
    if fixed:
        return fixed
    rounds, least = (10, 100) if quick else (20, 200)
    return max(least, rounds * concurrency)


def measure(
    database: str,
    server: Server,
    fake_url: str,
    calls: int | None,
    concurrencies: list[int],
    *,
    quick: bool,
    latency_ms: float,
) -> list[Row]:
    key = prepare(server, fake_url)
    direct = (f"{fake_url}/v1/chat/completions", {"authorization": "Bearer sk-fake"})
    gateway = (
        f"{server.url}/v1/chat/completions",
        {"authorization": f"Bearer {key}"},
    )
    for url, headers in (direct, gateway):  # warm connections, caches and the price table
        arm(url, headers, 32, 4)
    rows = []
    for concurrency in concurrencies:
        half = max(1, calls_per_arm(concurrency, calls, quick) // 2)
        arms: dict[str, list[Arm]] = {"direct": [], "gateway": []}
        cpu = {"direct": 0.0, "gateway": 0.0}
        wall = {"direct": 0.0, "gateway": 0.0}
        for name in ("direct", "gateway", "gateway", "direct"):
            url, headers = direct if name == "direct" else gateway
            before, began = server.cpu_seconds(), time.perf_counter()
            arms[name].append(arm(url, headers, half, concurrency, latency_ms / 1000))
            if name == "gateway":
                time.sleep(ARM_PAUSE_SECONDS)  # the last calls' recording and judging
            cpu[name] += server.cpu_seconds() - before
            wall[name] += time.perf_counter() - began
        # The server idles through the direct arms: what it spends then (its jobs, its
        # checkpoints) is no call's cost.
        idle_rate = cpu["direct"] / wall["direct"]
        server_cpu = max(0.0, cpu["gateway"] - idle_rate * wall["gateway"])
        error_codes = [a.errors for v in arms.values() for a in v]
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
                errors=sum(e.total() for e in error_codes),
                error_codes=dict(sum(error_codes, Counter[str]())),
                server_cpu_ms_per_call=server_cpu / max(len(g), 1) * 1000,
            )
        )
    return rows


@contextmanager
def corral_on(database: str, postgres_url: str, env: dict[str, str]) -> Iterator[Server]:
    """``corral serve`` on a scratch database of the kind named."""
    if database == "sqlite":
        with (
            tempfile.TemporaryDirectory(prefix="corral-bench-db-") as scratch,
            corral_server(f"sqlite:///{scratch}/corral.db", **env) as server,
        ):
            yield server
        return
    with scratch_postgres(postgres_url) as url, corral_server(url, **env) as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Half the calls per arm, SQLite only.")
    parser.add_argument(
        "--calls",
        type=int,
        help="Calls per arm and concurrency (default: 20 per worker, at least 200).",
    )
    parser.add_argument("--concurrency", default="1,32,128", help="Comma-separated.")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=DEFAULT_LATENCY_MS,
        help=f"The fake provider's answer delay (default {DEFAULT_LATENCY_MS:g}).",
    )
    parser.add_argument("--workers", type=int, default=1, help="Corral server worker processes.")
    parser.add_argument("--databases", help="Comma-separated (default sqlite,postgresql).")
    parser.add_argument(
        "--no-durable-writes",
        action="store_true",
        help="Run Corral with CORRAL_GATEWAY_DURABLE_WRITES=false (no wait for the disk flush).",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CORRAL_NAME=VALUE",
        help="A setting for the Corral server (repeatable), e.g. CORRAL_GATEWAY_CACHE_SECONDS=10.",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CORRAL_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args()
    settings = dict(item.partition("=")[::2] for item in args.set)
    if any(not name.startswith("CORRAL_") for name in settings):
        parser.error("--set takes CORRAL_NAME=VALUE")
    databases = (args.databases or ("sqlite" if args.quick else "sqlite,postgresql")).split(",")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    rows: list[Row] = []
    notes: list[str] = []
    server_env = {"CORRAL_WORKERS": str(args.workers)} if args.workers > 1 else {}
    if args.no_durable_writes:
        server_env["CORRAL_GATEWAY_DURABLE_WRITES"] = "false"
    server_env.update(settings)
    with fake_provider(args.latency_ms) as fake_url:
        for database in databases:
            if database == "postgresql" and not postgres_available(args.postgres_url):
                notes.append(f"PostgreSQL not reachable at {args.postgres_url}; skipped")
                continue
            with corral_on(database, args.postgres_url, server_env) as server:
                rows += measure(
                    database,
                    server,
                    fake_url,
                    args.calls,
                    concurrencies,
                    quick=args.quick,
                    latency_ms=args.latency_ms,
                )
    print_table(
        f"Gateway overhead, fake provider latency {args.latency_ms:g} ms, {args.workers} worker(s)"
        + (", durable writes off" if args.no_durable_writes else "")
        + "".join(f", {name}={value}" for name, value in settings.items()),
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
                f"{r.server_cpu_ms_per_call:.2f}",
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
            "server CPU ms/call",
            "errors",
        ),
    )
    for r in rows:
        if r.error_codes:
            codes = ", ".join(f"{n} x {code}" for code, n in sorted(r.error_codes.items()))
            notes.append(f"{r.database} at concurrency {r.concurrency}: {codes}")
    for note in notes:
        print(f"note: {note}")
    figures = {
        "bench": "gateway",
        "quick": args.quick,
        "latency_ms": args.latency_ms,
        "workers": args.workers,
        "durable_writes": not args.no_durable_writes,
        "settings": settings,
        "rows": [asdict(r) for r in rows],
        "notes": notes,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
