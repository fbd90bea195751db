"""``corral traces`` and ``corral sessions`` against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner, Result

from corral.cli.main import cli
from tests.live import LiveServer, live_server, server_env
from tests.server.otlp_helpers import export, span, span_id_hex, trace_id_hex

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def server(home: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(home, database_url) as running:
        yield running


def test_traces_and_sessions_commands(home: Path, database_url: str, server: LiveServer) -> None:
    env = {**server_env(home, database_url), "COLUMNS": "250"}
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    run("projects", "create", "acme")
    key = json.loads((home / "cli-config.json").read_text())["api_key"]
    body = export(
        span(
            1,
            1,
            name="invoke_agent planner",
            duration_ms=50,
            gen_ai__agent__name="planner",
            gen_ai__operation__name="invoke_agent",
            gen_ai__conversation__id="chat-1",
        ),
        span(
            1,
            2,
            1,
            name="invoke_agent writer",
            start_ms=1,
            gen_ai__agent__name="writer",
            gen_ai__operation__name="invoke_agent",
        ),
        span(
            1,
            3,
            2,
            name="chat",
            start_ms=2,
            gen_ai__operation__name="chat",
            gen_ai__request__model="gpt-4o",
            gen_ai__usage__input_tokens=10,
            gen_ai__usage__output_tokens=5,
            gen_ai__input__messages="write the summary",
        ),
        span(
            1,
            4,
            2,
            name="execute_tool save",
            start_ms=3,
            error="disk full",
            gen_ai__tool__name="save",
        ),
        project="acme",
    )
    response = httpx2.post(
        f"{server.url}/v1/traces",
        content=body.SerializeToString(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text

    (listed,) = json.loads(run("traces", "list", "acme", "--status", "error", "--json").output)
    assert listed["trace_id"] == trace_id_hex(1)
    assert (
        json.loads(run("traces", "list", "acme", "--search", "nothing-like-it", "--json").output)
        == []
    )
    assert run("traces", "list", "acme").output.strip()  # a table (its width is the terminal's)
    shown = run("traces", "show", "acme", trace_id_hex(1)).output
    assert "execute_tool save" in shown
    assert "disk" in shown  # the line wraps at the terminal width
    tree = json.loads(run("traces", "show", "acme", trace_id_hex(1), "--json").output)
    assert [s["depth"] for s in tree["spans"]] == [0, 1, 2, 2]
    detail = json.loads(
        run("traces", "span", "acme", trace_id_hex(1), span_id_hex(3), "--json").output
    )
    assert detail["input_text"] == "write the summary"
    graph = json.loads(run("traces", "graph", "acme", "--session", "chat-1", "--json").output)
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("agent:planner", "agent:writer"),
        ("agent:writer", "tool:save"),
    }
    metrics = json.loads(
        run(
            "traces",
            "metrics",
            "--group-by",
            "model",
            "--since",
            "2025-12-31T00:00:00",
            "--until",
            "2026-01-02T00:00:00",
            "--json",
        ).output
    )
    assert [(p["group"], p["calls"]) for p in metrics["points"]] == [("gpt-4o", 1)]

    (session,) = json.loads(run("sessions", "list", "acme", "--json").output)
    assert (session["session_id"], session["span_count"]) == ("chat-1", 4)
    assert (
        json.loads(run("sessions", "show", "acme", "chat-1", "--json").output)["error_count"] == 1
    )
    timeline = json.loads(run("sessions", "timeline", "acme", "chat-1", "--json").output)
    assert len(timeline) == 4
    assert "agent:writer" in run("sessions", "graph", "acme", "chat-1").output

    purged = json.loads(
        run("traces", "purge", "acme", "--session", "chat-1", "--yes", "--json").output
    )
    assert purged == {"traces_deleted": 1, "spans_deleted": 4, "sessions_deleted": 1}
    assert json.loads(run("traces", "list", "acme", "--json").output) == []
