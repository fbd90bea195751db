"""``corral rollout`` against a real server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from corral.cli.main import cli
from tests.live import LiveServer, live_server, server_env

pytestmark = pytest.mark.slow

Run = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def server(home: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(home, database_url) as running:
        yield running


@pytest.fixture
def run(home: Path, database_url: str, server: LiveServer) -> Run:
    env = server_env(home, database_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    return invoke


def test_rollout_commands(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "support.yaml"
    config.write_text("model: gpt-4o-mini\nsystem_prompt: You help.\n")
    run("agents", "create", "support")
    run("agents", "versions", "create", "support", "--file", str(config))
    run("deploy", "support", "1")
    run("agents", "versions", "create", "support", "--set", "model=gpt-4o")
    refused = run("rollout", "start", "support", "2", "--step", "50", "--step", "10", ok=False)
    assert "only grow" in refused.output
    started = json.loads(
        run(
            "rollout", "start", "support", "2",
            "--step", "10:30", "--step", "100::40",
            "--threshold", "min_sessions=5", "--json",
        ).output
    )  # fmt: skip
    assert [s["weight"] for s in started["steps"]] == [10, 100]
    assert started["steps"][1] == {"weight": 100, "min_minutes": None, "min_sessions": 40}
    assert started["analysis"]["min_sessions"] == 5
    rollout = str(started["id"])

    assert "steps" in run("rollout", "status", "support").output  # tables, terminal-wide
    status = json.loads(run("rollout", "status", "support", rollout, "--analyze", "--json").output)
    assert status["status"] == "running"
    assert status["live"]["failures"][0] == "too few canary sessions: 0 < 5"
    paused = run("rollout", "pause", "support", rollout, "--reason", "lunch", "--json").output
    assert json.loads(paused)["status"] == "paused"
    assert json.loads(run("rollout", "resume", "support", rollout, "--json").output)["status"] == (
        "running"
    )
    listed = json.loads(run("rollout", "list", "support", "--status", "running", "--json").output)
    assert [r["id"] for r in listed] == [started["id"]]
    aborted = run("rollout", "abort", "support", rollout, "--reason", "no", "--json").output
    assert json.loads(aborted)["reason"] == "aborted by hand: no"
    assert "cannot be promoted" in run("rollout", "promote", "support", rollout, ok=False).output
    assert "no rollouts" in run("rollout", "list", "support", "--status", "paused").output
