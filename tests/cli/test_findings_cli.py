"""``corral findings``, ``corral sessions halts|check|resume``, ``corral traces import`` and
``corral eval`` against a real server (detecting inline, so findings exist once ingest answers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from corral.cli.main import cli
from tests.live import LiveServer, live_server, server_env

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def server(home: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(home, database_url, CORRAL_DETECTION_MODE="inline") as running:
        yield running


def log(runs: int) -> dict[str, Any]:
    """A Who&When log where the coder has the terminal run the same code ``runs`` times."""
    history: list[dict[str, str]] = [{"role": "human", "content": "What is 6 x 7?"}]
    for _ in range(runs):
        history.append({"name": "Coder", "content": "```python\nprint(6 * 7)\n```"})
        history.append({"name": "Computer_terminal", "content": "exitcode: 0\nCode output: 42"})
    history.append({"name": "Coder", "content": "The answer is 42. TERMINATE"})
    return {"history": history, "mistake_agent": "Coder", "mistake_step": "3"}


def test_findings_commands(
    home: Path, database_url: str, server: LiveServer, tmp_path: Path
) -> None:
    env = {**server_env(home, database_url), "COLUMNS": "250"}
    runner = CliRunner()

    def run(*args: str, status: int = 0) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == status, result.output
        return result

    def as_json(*args: str) -> Any:
        return json.loads(run(*args, "--json").output)

    run("projects", "create", "acme")
    logs = tmp_path / "logs" / "Hand-Crafted"
    logs.mkdir(parents=True)
    (logs / "1.json").write_text(json.dumps(log(3)))
    imported = as_json("traces", "import", str(tmp_path / "logs"), "--project", "acme")
    assert imported == [
        {
            "log": "Hand-Crafted/1.json",
            "session": "who-and-when-hand-crafted-1",
            "spans": 9,
            "rejected": 0,
            "mistake_agent": "Coder",
            "mistake_step": 3,
        }
    ]
    assert (
        "who-and-when-hand-crafted-1"
        in run("traces", "import", str(logs), "--project", "acme").output
    )

    [finding] = as_json("findings", "list", "acme")
    assert (finding["type"], finding["agent"]) == ("tool_loop", "Coder")
    assert run("findings", "list", "acme", "--type", "tool_loop").output.strip()  # a table
    assert as_json("findings", "list", "acme", "--type", "tool_loop") == [finding]
    assert as_json("findings", "list", "acme", "--status", "resolved") == []
    assert run("findings", "show", "acme", str(finding["id"])).output.strip()  # tables
    shown = as_json("findings", "show", "acme", str(finding["id"]))
    assert {s["tool_name"] for s in shown["evidence"]} == {"execute_code"}
    ident = str(finding["id"])
    assert as_json("findings", "ack", "acme", ident, "--note", "seen")["status"] == "acknowledged"
    assert as_json("findings", "resolve", "acme", ident)["status"] == "resolved"
    assert as_json("findings", "reopen", "acme", ident)["status"] == "open"

    configured = as_json(
        "findings", "configure", "acme", "--set", "halt_on=tool_loop", "--set", "loop_repeats=3"
    )
    assert configured["overrides"] == {"halt_on": ["tool_loop"], "loop_repeats": 3}
    assert run("findings", "settings", "acme").output.strip()  # a table
    agent_view = as_json("findings", "settings", "acme", "--agent", "Coder")
    assert agent_view["effective"]["halt_on"] == ["tool_loop"]
    run("findings", "configure", "acme", status=2)  # nothing to change is a usage error

    (logs / "2.json").write_text(json.dumps(log(6)))  # six runs: critical, so it halts
    run("traces", "import", str(logs), "--project", "acme")
    session = "who-and-when-hand-crafted-2"
    [halt] = as_json("sessions", "halts", "acme")
    assert halt["session_id"] == session
    refused = run("sessions", "check", "acme", session, status=1)
    assert "session_halted" in refused.output
    assert f"finding {halt['finding_id']}" in refused.output
    resumed = as_json("sessions", "resume", "acme", session, "--note", "checked")
    assert (resumed["resume_note"], resumed["resumed_by"]) == ("checked", "admin@localhost")
    assert as_json("sessions", "check", "acme", session) == {"session_id": session, "halted": False}
    assert as_json("sessions", "halts", "acme") == []
    assert len(as_json("sessions", "halts", "acme", "--resumed", "--session", session)) == 1


def test_eval_prints_precision_and_recall() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["eval", "--per-family", "3", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["scenarios"] == 3 * 35
    assert set(report["detectors"]) >= {"tool_loop", "refetch", "handoff_cycle", "runaway"}
    assert all(d["precision"] == 1.0 and d["recall"] == 1.0 for d in report["detectors"].values())
    table = runner.invoke(cli, ["eval", "--per-family", "2", "--fail-under", "0.95"])
    assert table.exit_code == 0, table.output
    assert table.output.strip()  # a table (its width is the terminal's)
