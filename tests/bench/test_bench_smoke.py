"""Each benchmark runs end to end on a few items and ends with its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench"

pytestmark = pytest.mark.slow


def run(script: str, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def test_sdk_bench() -> None:
    figures = run("sdk.py", "--spans", "300", "--repeats", "1")
    assert figures["bench"] == "sdk"
    assert figures["corral_us_per_span"] > 0  # type: ignore[operator]


def test_decode_bench() -> None:
    figures = run("decode.py", "--rounds", "3")
    assert (figures["bench"], figures["spans"]) == ("decode", 550)
    assert figures["decode_normalize_us_per_span"] > 0  # type: ignore[operator]


def test_holds_bench() -> None:
    figures = run("holds.py", "--quick", "--rounds", "5", "--sizes", "1,4", "--pause-ms", "1")
    assert figures["pause_ms"] == 1
    rows = figures["rows"]
    assert [r["holds_per_transaction"] for r in rows] == [1, 4]  # type: ignore[attr-defined]
    assert all(r["cpu_ms"] > 0 for r in rows)  # type: ignore[attr-defined]


def test_ingest_bench() -> None:
    figures = run("ingest.py", "--spans", "1100", "--no-phoenix", "--databases", "sqlite")
    (only,) = figures["runs"]  # type: ignore[misc]
    assert only["spans_stored"] == only["spans_sent"] == 1100
    assert only["refused_posts"] == 0


def test_traces_bench() -> None:
    figures = run("traces.py", "--spans", "7000", "--runs", "4", "--databases", "sqlite")
    assert figures["sqlite"]["spans"] > 5000  # type: ignore[index]


def test_detectors_bench(tmp_path: Path) -> None:
    logs = tmp_path / "Hand-Crafted"
    logs.mkdir()
    history = [{"role": "human", "content": "What is 6 x 7?"}]
    for _ in range(3):
        history.append({"name": "Coder", "content": "```python\nprint(6 * 7)\n```"})
        history.append({"name": "Computer_terminal", "content": "exitcode: 0\nCode output: 42"})
    (logs / "1.json").write_text(
        json.dumps({"history": history, "mistake_agent": "Coder", "mistake_step": "5"})
    )
    figures = run(
        "detectors.py",
        "--quick",
        "--data",
        str(tmp_path),
        "--seconds",
        "2",
        "--modes",
        "background",
    )
    assert figures["generated_suite"]["min_recall"] == 1.0  # type: ignore[index]
    found = figures["who_and_when"]
    assert found["logs_with_finding"] == 1  # type: ignore[index]
    assert found["agent_accuracy_all_logs"] == 1.0  # type: ignore[index]
    assert found["boilerplate_loop_or_handoff_findings"] == 0  # type: ignore[index]
    [latency] = figures["latency"]  # type: ignore[misc]
    assert latency["probes"] >= 1
    assert latency["detected"] == latency["probes"]


def test_console_memory_bench() -> None:
    figures = run("console_memory.py", "--items", "600", "--requests", "2")
    pages = figures["pages"]
    assert len(pages) == 9  # type: ignore[arg-type]
    assert figures["worst_p95_ms"] > 0  # type: ignore[operator]


def test_gateway_bench() -> None:
    figures = run(
        "gateway.py",
        "--calls",
        "24",
        "--concurrency",
        "1,4",
        "--latency-ms",
        "20",
        "--databases",
        "sqlite",
    )
    rows = figures["rows"]
    assert [r["concurrency"] for r in rows] == [1, 4]  # type: ignore[union-attr]
    for row in rows:  # type: ignore[union-attr]
        assert row["errors"] == 0
        assert row["calls"] == 24
        # Every call waits for the fake's answer, directly or through the gateway.
        assert row["direct_p50_ms"] >= 20
        assert row["gateway_p50_ms"] >= 20
