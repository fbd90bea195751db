"""Smoke tests of the memory benchmarks: each runs end to end on a few items."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench"
pytestmark = pytest.mark.slow


def run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=True, timeout=300
    )
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def tiny_locomo(path: Path) -> Path:
    turns = [
        ("D1:1", "Ann", "I adopted a puppy named Rex last week"),
        ("D1:2", "Bob", "That is lovely, what breed is he?"),
        ("D1:3", "Ann", "A beagle, he loves the beach"),
        ("D2:1", "Bob", "I started painting landscapes again"),
        ("D2:2", "Ann", "Do you paint with oils?"),
        ("D2:3", "Bob", "Watercolours, mostly of mountains"),
    ]
    conversation = {
        "speaker_a": "Ann",
        "speaker_b": "Bob",
        "session_1": [{"dia_id": d, "speaker": s, "text": t} for d, s, t in turns[:3]],
        "session_2": [{"dia_id": d, "speaker": s, "text": t} for d, s, t in turns[3:]],
    }
    qa = [
        {"question": "What breed is Ann's puppy?", "evidence": ["D1:3"], "category": 4},
        {"question": "What does Bob paint?", "evidence": ["D2:1", "D2:3"], "category": 1},
        {"question": "Ignored adversarial question", "evidence": ["D1:1"], "category": 5},
    ]
    path.write_text(json.dumps([{"sample_id": "t", "conversation": conversation, "qa": qa}]))
    return path


def test_quality_benchmark_runs_on_a_tiny_conversation(tmp_path: Path) -> None:
    data = tiny_locomo(tmp_path / "tiny.json")
    figures = run(str(BENCH / "memory_quality.py"), "--data", str(data))
    assert figures["questions"] == 2
    assert figures["corral_recall_at_10"] == 1.0  # six items: everything is in the top 10
    assert 0 < float(figures["corral_ndcg_at_10"]) <= 1  # type: ignore[arg-type]


def test_quality_benchmark_says_when_data_is_missing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "memory_quality.py"), "--data", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "not found" in done.stderr


def test_latency_benchmark_runs_on_a_few_items() -> None:
    figures = run(str(BENCH / "memory.py"), "--items", "300", "--projects", "3", "--queries", "5")
    assert figures["items"] == 300
    for name in ("recall_p50_ms", "restore_p95_ms", "http_remember_p50_ms"):
        assert float(figures[name]) > 0  # type: ignore[arg-type]
