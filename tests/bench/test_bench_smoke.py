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


def test_ingest_bench() -> None:
    figures = run("ingest.py", "--spans", "1100", "--no-phoenix", "--databases", "sqlite")
    (only,) = figures["runs"]  # type: ignore[misc]
    assert only["spans_stored"] == only["spans_sent"] == 1100
    assert only["refused_posts"] == 0


def test_traces_bench() -> None:
    figures = run("traces.py", "--spans", "7000", "--runs", "4", "--databases", "sqlite")
    assert figures["sqlite"]["spans"] > 5000  # type: ignore[index]
