"""Silent-failure detection: accuracy on generated scenarios and on Who&When, and latency.

    python bench/detectors.py                  # full run
    python bench/detectors.py --quick          # a short run
    python bench/detectors.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

(a) The generated suite (``corral eval``): precision and recall of every detector.

(b) Who&When (``--data``, default ``../shared/data/who_and_when``): every log is imported into a
project through the real path — an OTLP/JSON export per log (one session each) to an in-process
server, the detection worker, the findings API — and the findings are compared with the labels:
how often the earliest finding's agent and step match ``mistake_agent`` / ``mistake_step`` (over
all logs, and over the logs with a finding), how many loop or handoff findings rest on routing
boilerplate alone (must be 0), and whether the stored findings equal the rules run directly on
the same log (a check of the span round trip).

(c) Detection latency: ``corral serve`` on a real socket takes a steady OTLP load from other
senders (traces of 11 spans over 1,000 sessions); meanwhile a probe sends two identical tool
calls, then the third one, and polls ``GET /v1/projects/{p}/findings?session=…`` every 5 ms
from the moment that POST is answered until the tool-loop finding is there. The same load runs
with detection off, in the background (the default) and inline, so the cost detection adds to
ingest shows in the POST latencies. SQLite always; PostgreSQL with ``--database-url``.

Prints tables, then one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, corral_server, median, percentile, print_table, scratch_postgres

from corral.core.otlp import encode_key_values
from corral.testing.traces import TraceShape, agent_trace_request

DEFAULT_DATA = REPO.parent / "shared" / "data" / "who_and_when"
PROJECT = "bench"


# --- (a) generated suite ----------------------------------------------------------------------


def generated_suite(per_family: int) -> dict[str, Any]:
    from corral.core.detection.scenarios import evaluate

    result = evaluate(per_family=per_family)
    rows = []
    scores = {}
    for name, s in result.scores.items():
        scores[name] = {"precision": round(s.precision, 4), "recall": round(s.recall, 4)}
        rows.append(
            (
                name,
                str(s.positives),
                str(s.true_positives),
                str(s.false_positives),
                str(s.false_negatives),
                f"{s.precision:.3f}",
                f"{s.recall:.3f}",
            )
        )
    print_table(
        f"(a) Generated suite: {result.scenarios} scenarios, {per_family} per family",
        rows,
        ("detector", "positives", "TP", "FP", "FN", "precision", "recall"),
    )
    return {
        "scenarios": result.scenarios,
        "detectors": scores,
        "min_precision": min(s["precision"] for s in scores.values()),
        "min_recall": min(s["recall"] for s in scores.values()),
    }


# --- (b) Who&When through the real path -------------------------------------------------------


@contextmanager
def in_process_server() -> Iterator[tuple[Any, Any]]:
    """A migrated scratch SQLite server in this process: (runtime, admin SDK client)."""
    from fastapi.testclient import TestClient

    import corral
    from corral.core.bootstrap import bootstrap_workspace
    from corral.core.runtime import Runtime
    from corral.db import migrate
    from corral.server.app import create_app
    from corral.settings import Settings

    with tempfile.TemporaryDirectory(prefix="corral-bench-ww-") as scratch:
        settings = Settings(home=Path(scratch), jobs_enabled=False, log_level="warning")
        rt = Runtime.from_settings(settings)
        migrate.upgrade(rt.db)
        key = bootstrap_workspace(rt)
        try:
            with TestClient(create_app(runtime=rt)) as http:
                yield rt, corral.Client(url="http://testserver", api_key=key, http_client=http)
        finally:
            rt.db.dispose()


def who_and_when(data: Path, limit: int | None) -> dict[str, Any] | None:
    from corral.core.detection.config import is_routing_boilerplate
    from corral.core.detection.engine import DetectionContext, detect
    from corral.core.detection.live import running_detector
    from corral.core.detection.who_and_when import load_logs, log_to_otlp, otlp_ids, session_name

    if not data.exists():
        print(f"\n(b) Who&When: no data at {data} (pass --data PATH); skipped.")
        return None
    logs = load_logs(data)[:limit]
    per_log: list[dict[str, Any]] = []
    types: Counter[str] = Counter()
    boilerplate = 0
    same_as_rules = 0
    with in_process_server() as (rt, client):
        client.projects.create(PROJECT)
        start = datetime.now(UTC)
        began = time.perf_counter()
        for log in logs:
            assert log.path is not None
            document = log_to_otlp(
                log, project=PROJECT, session=session_name(log.path), start=start
            )
            client.traces.export(document)
        detector = running_detector(rt)
        assert detector is not None
        assert detector.wait_idle(600)
        import_seconds = time.perf_counter() - began
        passes, pass_seconds = detector.stats.passes, detector.stats.seconds
        for log in logs:
            assert log.path is not None
            session = session_name(log.path)
            _, span_id = otlp_ids(session)
            views = {span_id(v.span_id): v for v in log.spans}
            found = client.findings.list(PROJECT, session=session, limit=500)
            for finding in found:
                types[finding.type] += 1
                if finding.type.endswith("loop") or finding.type == "handoff_cycle":
                    evidence = [views[i] for i in finding.span_ids if i in views]
                    if evidence and all(
                        v.span_type != "tool" and is_routing_boilerplate(v.output_text)
                        for v in evidence
                    ):
                        boilerplate += 1
            earliest = min(found, key=lambda f: (f.step is None, f.step or 0, f.id), default=None)
            step = None
            if earliest is not None and earliest.step_span_id in views:
                step = views[earliest.step_span_id].step  # the index in the log's history
            direct = sorted((f.type, f.step) for f in detect(log.spans, DetectionContext()))
            stored = sorted(
                (f.type, views[f.step_span_id].step if f.step_span_id in views else None)
                for f in found
            )
            same_as_rules += direct == stored
            per_log.append(
                {
                    "log": f"{log.path.parent.name}/{log.path.name}",
                    "messages": len(log.spans) - 1,
                    "findings": [f.type for f in found],
                    "agent": earliest.agent if earliest else None,
                    "step": step,
                    "mistake_agent": log.mistake_agent,
                    "mistake_step": log.mistake_step,
                    "agent_match": same_agent(
                        earliest.agent if earliest else None, log.mistake_agent
                    ),
                    "step_match": step is not None and step == log.mistake_step,
                    "label_step_in_evidence": any(
                        views[i].step == log.mistake_step
                        for f in found
                        for i in f.span_ids
                        if i in views
                    ),
                }
            )
    fired = [r for r in per_log if r["findings"]]
    in_evidence = sum(r["label_step_in_evidence"] for r in fired)
    rows = [
        (
            r["log"],
            str(r["messages"]),
            ", ".join(f"{t}x{n}" for t, n in Counter(r["findings"]).items()),
            f"{r['agent']}@{r['step']}",
            f"{r['mistake_agent']}@{r['mistake_step']}",
            ("A" if r["agent_match"] else "-") + ("S" if r["step_match"] else "-"),
        )
        for r in fired
    ]
    print_table(
        f"(b) Who&When: findings per log ({len(fired)} of {len(per_log)} logs have one; "
        "the others have none)",
        rows,
        ("log", "msgs", "findings", "earliest agent@step", "label", "match"),
    )

    def share(rows: list[dict[str, Any]], key: str) -> float:
        return round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0

    figures = {
        "logs": len(per_log),
        "logs_with_finding": len(fired),
        "findings": sum(types.values()),
        "findings_by_type": dict(types.most_common()),
        "boilerplate_loop_or_handoff_findings": boilerplate,
        "agent_accuracy_all_logs": share(per_log, "agent_match"),
        "step_accuracy_all_logs": share(per_log, "step_match"),
        "agent_accuracy_logs_with_finding": share(fired, "agent_match"),
        "step_accuracy_logs_with_finding": share(fired, "step_match"),
        "logs_whose_labelled_step_is_in_the_evidence": in_evidence,
        "logs_where_stored_findings_equal_direct_rules": same_as_rules,
        "import_and_detect_seconds": round(import_seconds, 2),
        "detection_passes": passes,
        "detection_ms_per_pass": round(1000 * pass_seconds / passes, 2) if passes else None,
    }
    print_table(
        "(b) Who&When summary",
        [(k, json.dumps(v)) for k, v in figures.items()],
        ("figure", "value"),
    )
    print(
        "    Reference: the best LLM-based method localizes the failure's agent in 54.3% and its"
        " step in 25.5% of logs (Who&When paper)."
    )
    return figures


def same_agent(found: str | None, label: str) -> bool:
    """Agent names as the labels spell them (``Websurfer`` for ``WebSurfer``, spaces or not)."""

    def key(name: str) -> str:
        return "".join(c for c in name.lower() if c.isalnum())

    return found is not None and key(found) == key(label)


# --- (c) detection latency under load ---------------------------------------------------------


def probe_request(number: int, calls: range) -> bytes:
    """Identical tool calls of session ``probe-<number>`` (the third one is the offense)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    group.resource.attributes.extend(
        encode_key_values({"service.name": "probe", "corral.project": PROJECT})
    )
    scope = group.scope_spans.add()
    trace_id = random.Random(number).randbytes(16)
    now = time.time_ns()
    for call in calls:
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "convert_currency",
            "gen_ai.tool.call.arguments": json.dumps({"amount": 5, "to": "EUR"}),
            "gen_ai.tool.call.result": f"{4 + call / 10} EUR",
            "gen_ai.conversation.id": f"probe-{number}",
            "gen_ai.agent.name": "prober",
        }
        scope.spans.append(
            Span(
                trace_id=trace_id,
                span_id=(number * 16 + call + 1).to_bytes(8, "big"),
                name="execute_tool convert_currency",
                kind=Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=now + call * 1_000_000,
                end_time_unix_nano=now + call * 1_000_000 + 500_000,
                attributes=encode_key_values(attributes),
            )
        )
    return request.SerializeToString()


@dataclass
class LatencyRun:
    database: str
    mode: str
    seconds: float
    load_spans_per_s: float
    load_posts: int
    load_refused: int
    post_p50_ms: float
    post_p95_ms: float
    probes: int
    detected: int
    detection_p50_ms: float | None
    detection_p95_ms: float | None
    detection_max_ms: float | None


def latency_run(
    database_url: str, label: str, mode: str, seconds: float, spans_per_s: float
) -> LatencyRun:
    traces_per_post = 20
    posts_per_s = spans_per_s / (traces_per_post * 11)
    senders = 2
    shape = TraceShape(project=PROJECT, sessions=1000)
    bodies = [
        agent_trace_request(traces_per_post, shape=shape, seed=n).SerializeToString()
        for n in range(max(4, int(posts_per_s * seconds) + 4))
    ]
    with corral_server(database_url, CORRAL_DETECTION_MODE=mode) as server:
        auth = {"authorization": f"Bearer {server.admin_key}"}
        httpx2.post(
            f"{server.url}/v1/projects", json={"name": PROJECT}, headers=auth
        ).raise_for_status()
        headers = {**auth, "content-type": "application/x-protobuf"}
        stop = threading.Event()
        post_ms: list[float] = []
        refused = [0]
        lock = threading.Lock()
        cursor = iter(range(len(bodies)))

        def sender() -> None:
            interval = senders / posts_per_s
            next_at = time.perf_counter()
            with httpx2.Client(timeout=60) as http:
                while not stop.is_set():
                    next_at += interval
                    index = next(cursor, None)
                    if index is None:
                        return
                    began = time.perf_counter()
                    response = http.post(
                        f"{server.url}/v1/traces", content=bodies[index], headers=headers
                    )
                    elapsed = (time.perf_counter() - began) * 1000
                    with lock:
                        post_ms.append(elapsed)
                        refused[0] += response.status_code != 200
                    stop.wait(max(0.0, next_at - time.perf_counter()))

        latencies: list[float] = []
        probes = [0]

        def prober() -> None:
            with httpx2.Client(timeout=60) as http:
                number = 0
                while not stop.is_set():
                    number += 1
                    http.post(
                        f"{server.url}/v1/traces",
                        content=probe_request(number, range(2)),
                        headers=headers,
                    ).raise_for_status()
                    stop.wait(0.05)
                    offense = http.post(
                        f"{server.url}/v1/traces",
                        content=probe_request(number, range(2, 3)),
                        headers=headers,
                    )
                    offense.raise_for_status()
                    acknowledged = time.perf_counter()
                    probes[0] += 1
                    deadline = acknowledged + 10
                    while time.perf_counter() < deadline:
                        found = http.get(
                            f"{server.url}/v1/projects/{PROJECT}/findings",
                            params={"session": f"probe-{number}", "type": "tool_loop"},
                            headers=auth,
                        ).json()["data"]
                        if found:
                            latencies.append((time.perf_counter() - acknowledged) * 1000)
                            break
                        time.sleep(0.005)
                    stop.wait(0.2)

        threads = [threading.Thread(target=sender) for _ in range(senders)]
        if mode != "off":
            threads.append(threading.Thread(target=prober))
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        stop.wait(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    return LatencyRun(
        database=label,
        mode=mode,
        seconds=round(elapsed, 1),
        load_spans_per_s=round(len(post_ms) * traces_per_post * 11 / elapsed, 1),
        load_posts=len(post_ms),
        load_refused=refused[0],
        post_p50_ms=round(median(post_ms), 2),
        post_p95_ms=round(percentile(post_ms, 0.95), 2),
        probes=probes[0],
        detected=len(latencies),
        detection_p50_ms=round(median(latencies), 1) if latencies else None,
        detection_p95_ms=round(percentile(latencies, 0.95), 1) if latencies else None,
        detection_max_ms=round(max(latencies), 1) if latencies else None,
    )


def latency(
    database_url: str | None, modes: list[str], seconds: float, spans_per_s: float
) -> list[LatencyRun]:
    runs: list[LatencyRun] = []
    targets: list[tuple[str, str | None]] = [("sqlite", None)]
    if database_url:
        targets.append(("postgresql", database_url))
    for label, url in targets:
        for mode in modes:
            if url is None:
                with tempfile.TemporaryDirectory(prefix="corral-bench-db-") as scratch:
                    run = latency_run(
                        f"sqlite:///{scratch}/corral.db", label, mode, seconds, spans_per_s
                    )
            else:
                with scratch_postgres(url) as scratch_url:
                    run = latency_run(scratch_url, label, mode, seconds, spans_per_s)
            runs.append(run)
            print(f"    {label} {mode}: {json.dumps(asdict(run))}", flush=True)
    print_table(
        f"(c) Detection latency and ingest cost, load {spans_per_s:.0f} spans/s target "
        f"(2 senders, 220-span POSTs), {seconds:.0f} s per run",
        [
            (
                r.database,
                r.mode,
                f"{r.load_spans_per_s:.0f}",
                f"{r.post_p50_ms:.1f}",
                f"{r.post_p95_ms:.1f}",
                f"{r.detected}/{r.probes}",
                "-" if r.detection_p50_ms is None else f"{r.detection_p50_ms:.0f}",
                "-" if r.detection_p95_ms is None else f"{r.detection_p95_ms:.0f}",
                "-" if r.detection_max_ms is None else f"{r.detection_max_ms:.0f}",
            )
            for r in runs
        ],
        (
            "database",
            "detection",
            "load spans/s",
            "POST p50 ms",
            "POST p95 ms",
            "found",
            "detect p50 ms",
            "detect p95 ms",
            "max ms",
        ),
    )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A short run.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Who&When directory.")
    parser.add_argument("--logs", type=int, help="Only the first N Who&When logs.")
    parser.add_argument("--database-url", help="Also measure latency on this PostgreSQL server.")
    parser.add_argument("--seconds", type=float, help="Seconds per latency run.")
    parser.add_argument("--load", type=float, default=1000.0, help="Load in spans/s.")
    parser.add_argument("--modes", default=None, help="Detection modes to compare (comma list).")
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 45.0)
    modes = (args.modes or ("off,background" if args.quick else "off,background,inline")).split(",")
    figures: dict[str, Any] = {"bench": "detectors", "quick": args.quick}
    figures["generated_suite"] = generated_suite(5 if args.quick else 30)
    figures["who_and_when"] = who_and_when(args.data, args.logs)
    runs = latency(args.database_url, modes, seconds, args.load)
    figures["latency"] = [asdict(r) for r in runs]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
