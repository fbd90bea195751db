"""OTLP ingest throughput: Corral on SQLite and PostgreSQL, and Arize Phoenix side by side.

    python bench/ingest.py            # 200,000 spans per database, Phoenix on 10,000
    python bench/ingest.py --quick    # a short run

Load: traces of one ``invoke_agent`` root and 10 children alternating ``chat`` (model, tokens,
agent, conversation id, a ~300-character input-messages attribute) and ``execute_tool`` (tool
name and arguments); 50 traces (550 spans) per POST of OTLP protobuf; 4 concurrent senders. The
payloads are encoded before the clock starts, so the senders cost little CPU.

Durable spans/s counts spans whose POST was answered 200: Corral answers only after commit, so
they are queryable at that moment (the run checks the stored count). Phoenix acknowledges before
it writes, so its rate is measured until its database holds every span.

The SQLite text index over span contents waits for ingest bursts (up to 200,000 spans behind):
the table says how long after the last answer it held every span. PostgreSQL indexes on insert.

CPU per span is what the server's processes (serving, workers, the SQLite write process) and the
senders used while the spans were sent, divided by the spans stored: on a shared machine it varies
less than the rate, and says how much of the machine a span takes.

Phoenix is installed into its own virtualenv (bench/.phoenix-venv, not a Corral dependency) on
first use. Prints a table, then one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DEFAULT_POSTGRES,
    PeakRss,
    corral_server,
    free_port,
    percentile,
    postgres_available,
    print_table,
    scratch_postgres,
    tree_cpu_seconds,
    wait_http,
)

from corral.testing.traces import TraceShape, agent_trace_request

SPANS_PER_TRACE = 11
PHOENIX_VENV = Path(__file__).resolve().parent / ".phoenix-venv"


@dataclass
class Run:
    system: str
    database: str
    spans_sent: int
    spans_stored: int
    seconds: float
    durable_spans_per_s: float
    post_p50_ms: float
    post_p99_ms: float
    posts: int
    refused_posts: int
    peak_rss_mib: float
    refusals: dict[str, int] = field(default_factory=dict)
    server_cpu_us_per_span: float = float("nan")
    """CPU time the server's processes (serving, workers, the SQLite write process) used while
    the spans were sent, per span stored: less noisy than the rate on a shared machine."""
    sender_cpu_us_per_span: float = float("nan")
    """CPU time of the senders (this process) over the same time, per span stored."""
    index_caught_up_s: float = 0.0
    """SQLite: seconds after the last answer until the text index held every span (it waits
    for ingest bursts; see docs/observability.md)."""


def payloads(spans: int, traces_per_post: int, project: str | None) -> list[bytes]:
    shape = TraceShape(project=project)
    posts = max(1, -(-spans // (traces_per_post * SPANS_PER_TRACE)))  # rounded up
    return [
        agent_trace_request(traces_per_post, shape=shape, seed=n).SerializeToString()
        for n in range(posts)
    ]


def send_all(
    url: str, bodies: list[bytes], senders: int, headers: dict[str, str]
) -> tuple[list[float], dict[str, int], float]:
    """POST every body with ``senders`` threads; latencies (ms), refusals by status, seconds."""
    latencies: list[float] = []
    refusals: dict[str, int] = {}
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))

    def worker() -> None:
        with httpx2.Client(timeout=120) as http:
            for index in next_index:
                began = time.perf_counter()
                try:
                    response = http.post(url, content=bodies[index], headers=headers)
                    status = str(response.status_code)
                except httpx2.TransportError as exc:
                    status = type(exc).__name__
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    latencies.append(elapsed)
                    if status != "200":
                        refusals[status] = refusals.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(senders)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, refusals, time.perf_counter() - began


def bench_corral(
    database: str, url: str, bodies: list[bytes], senders: int, workers: int = 1
) -> Run:
    from sqlalchemy import func, select

    import corral
    from corral.core.runtime import Runtime
    from corral.db.schema import ProjectRow, SpanRow
    from corral.settings import Settings

    with corral_server(url, CORRAL_WORKERS=str(workers)) as server:
        client = corral.Client(url=server.url, api_key=server.admin_key)
        client.projects.create("bench")
        client.close()
        headers = {
            "authorization": f"Bearer {server.admin_key}",
            "content-type": "application/x-protobuf",
        }
        server_cpu, sender_cpu = server.cpu_seconds(), time.process_time()
        with PeakRss(server.rss_mib) as rss:
            latencies, refusals, seconds = send_all(
                f"{server.url}/v1/traces", bodies, senders, headers
            )
        server_cpu, sender_cpu = server.cpu_seconds() - server_cpu, time.process_time() - sender_cpu
        rt = Runtime.from_settings(Settings(database_url=url))
        with rt.db.read() as uow:
            project_id = uow.scalars(select(ProjectRow.id).where(ProjectRow.name == "bench")).one()
            stored = uow.scalar(
                select(func.count()).select_from(SpanRow).where(SpanRow.project_id == project_id)
            )
        indexed_after = _text_index_caught_up(rt) if database == "sqlite" else 0.0
        rt.db.dispose()
    sent = len(bodies) * agent_spans(bodies[0])
    accepted = (len(bodies) - sum(refusals.values())) * agent_spans(bodies[0])
    return Run(
        index_caught_up_s=round(indexed_after, 1),
        system="corral" if workers == 1 else f"corral, {workers} workers",
        database=database,
        spans_sent=sent,
        spans_stored=int(stored or 0),
        seconds=seconds,
        durable_spans_per_s=accepted / seconds,
        post_p50_ms=percentile(latencies, 0.50),
        post_p99_ms=percentile(latencies, 0.99),
        posts=len(bodies),
        refused_posts=sum(refusals.values()),
        peak_rss_mib=rss.peak,
        refusals=refusals,
        server_cpu_us_per_span=server_cpu / max(accepted, 1) * 1e6,
        sender_cpu_us_per_span=sender_cpu / max(accepted, 1) * 1e6,
    )


def _text_index_caught_up(rt: object, timeout: float = 300.0) -> float:
    """Seconds until the span text index has caught up with every stored span."""
    from corral.core.runtime import Runtime
    from corral.db import span_search

    assert isinstance(rt, Runtime)
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        with rt.db.read() as uow:
            if span_search.unindexed(uow) == 0:
                break
        time.sleep(0.2)
    return time.perf_counter() - began


_span_counts: dict[int, int] = {}


def agent_spans(body: bytes) -> int:
    key = id(body)
    if key not in _span_counts:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        request = ExportTraceServiceRequest.FromString(body)
        _span_counts[key] = sum(
            len(scope.spans) for group in request.resource_spans for scope in group.scope_spans
        )
    return _span_counts[key]


def ensure_phoenix() -> Path | None:
    """The ``phoenix`` command of bench/.phoenix-venv, installing it there on first use."""
    command = PHOENIX_VENV / "bin" / "phoenix"
    if command.exists():
        return command
    print("installing arize-phoenix into bench/.phoenix-venv (first run only)…", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PHOENIX_VENV)], check=True)
        subprocess.run(
            [str(PHOENIX_VENV / "bin" / "pip"), "install", "--quiet", "arize-phoenix"],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        print(f"could not install arize-phoenix: {exc}", file=sys.stderr)
        return None
    return command if command.exists() else None


def bench_phoenix(bodies: list[bytes], senders: int, timeout: float) -> Run | str:
    command = ensure_phoenix()
    if command is None:
        return "arize-phoenix could not be installed"
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-") as scratch:
        port = free_port()
        env = {
            **os.environ,
            "PHOENIX_WORKING_DIR": scratch,
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_TELEMETRY_ENABLED": "false",
        }
        log_path = Path(scratch) / "phoenix.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(command), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", process, log_path, timeout=180)

            def rss() -> float:
                try:
                    text = Path(f"/proc/{process.pid}/status").read_text()
                except OSError:
                    return float("nan")
                line = next(x for x in text.splitlines() if x.startswith("VmRSS:"))
                return int(line.split()[1]) / 1024

            expected = sum(agent_spans(b) for b in bodies)
            database = Path(scratch) / "phoenix.db"
            headers = {"content-type": "application/x-protobuf"}
            server_cpu, sender_cpu = tree_cpu_seconds(process.pid), time.process_time()
            with PeakRss(rss) as peak:
                began = time.perf_counter()
                latencies, refusals, _ = send_all(
                    f"http://127.0.0.1:{port}/v1/traces", bodies, senders, headers
                )
                stored, deadline = 0, time.monotonic() + timeout
                while time.monotonic() < deadline:
                    stored = _phoenix_span_count(database)
                    if stored >= expected:
                        break
                    time.sleep(0.2)
                seconds = time.perf_counter() - began
            server_cpu = tree_cpu_seconds(process.pid) - server_cpu
            sender_cpu = time.process_time() - sender_cpu
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    return Run(
        system="phoenix",
        database="sqlite",
        spans_sent=expected,
        spans_stored=stored,
        seconds=seconds,
        durable_spans_per_s=stored / seconds,
        post_p50_ms=percentile(latencies, 0.50),
        post_p99_ms=percentile(latencies, 0.99),
        posts=len(bodies),
        refused_posts=sum(refusals.values()),
        peak_rss_mib=peak.peak,
        refusals=refusals,
        server_cpu_us_per_span=server_cpu / max(stored, 1) * 1e6,
        sender_cpu_us_per_span=sender_cpu / max(stored, 1) * 1e6,
    )


def _phoenix_span_count(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM spans").fetchone()[0])
    except sqlite3.Error:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A short run (11,000 spans).")
    parser.add_argument("--spans", type=int, help="Spans per Corral run (default 200,000).")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument(
        "--workers", default="1", help="Server worker processes, comma-separated to compare."
    )
    parser.add_argument("--traces-per-post", type=int, default=50)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CORRAL_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="Comma-separated.")
    parser.add_argument("--phoenix-spans", type=int, help="Spans sent to Phoenix (default 10,000).")
    parser.add_argument("--no-phoenix", action="store_true", help="Skip Phoenix.")
    parser.add_argument("--phoenix-timeout", type=float, default=900)
    args = parser.parse_args()
    spans = args.spans or (11_000 if args.quick else 200_000)
    phoenix_spans = args.phoenix_spans or (2_200 if args.quick else 10_000)
    bodies = payloads(spans, args.traces_per_post, "bench")
    runs: list[Run] = []
    notes: list[str] = []
    for database in args.databases.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            if database == "sqlite":
                with tempfile.TemporaryDirectory(prefix="corral-bench-db-") as scratch:
                    url = f"sqlite:///{scratch}/corral.db"
                    runs.append(bench_corral("sqlite", url, bodies, args.senders, workers))
            elif database == "postgresql":
                if not postgres_available(args.postgres_url):
                    notes.append(f"PostgreSQL not reachable at {args.postgres_url}; skipped")
                    break
                with scratch_postgres(args.postgres_url) as url:
                    runs.append(bench_corral("postgresql", url, bodies, args.senders, workers))
    phoenix: Run | None = None
    if not args.no_phoenix:
        outcome = bench_phoenix(
            payloads(phoenix_spans, args.traces_per_post, None), args.senders, args.phoenix_timeout
        )
        if isinstance(outcome, str):
            notes.append(outcome)
        else:
            phoenix = outcome
            runs.append(outcome)
    print_table(
        f"OTLP ingest, {args.senders} senders, "
        f"{args.traces_per_post * SPANS_PER_TRACE} spans per POST",
        [
            (
                r.system,
                r.database,
                f"{r.spans_stored}/{r.spans_sent}",
                f"{r.durable_spans_per_s:,.0f}",
                f"{r.post_p50_ms:.1f}",
                f"{r.post_p99_ms:.1f}",
                str(r.refused_posts),
                f"{r.peak_rss_mib:.0f}",
                f"{r.server_cpu_us_per_span:.0f} / {r.sender_cpu_us_per_span:.0f}",
                f"{r.index_caught_up_s:.1f}"
                if r.system != "phoenix" and r.database == "sqlite"
                else "",
            )
            for r in runs
        ],
        (
            "system",
            "database",
            "stored/sent",
            "durable spans/s",
            "POST p50 ms",
            "POST p99 ms",
            "refused",
            "peak RSS MiB",
            "CPU us/span server / senders",
            "text index caught up s",
        ),
    )
    figures: dict[str, object] = {
        "bench": "ingest",
        "quick": args.quick,
        "runs": [asdict(r) for r in runs],
    }
    sqlite_run = max(
        (r for r in runs if r.system.startswith("corral") and r.database == "sqlite"),
        key=lambda r: r.durable_spans_per_s,
        default=None,
    )
    if phoenix is not None and sqlite_run is not None and phoenix.durable_spans_per_s > 0:
        ratio = sqlite_run.durable_spans_per_s / phoenix.durable_spans_per_s
        figures["corral_sqlite_vs_phoenix"] = round(ratio, 1)
        print(f"\nCorral (SQLite) / Phoenix durable spans/s: {ratio:,.1f}x")
    for note in notes:
        print(f"note: {note}")
    figures["notes"] = notes
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
