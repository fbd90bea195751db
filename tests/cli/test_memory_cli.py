"""``corral memory``, ``corral open`` and ``corral mcp`` against a real ``corral serve``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner, Result
from mcp import Client, StdioServerParameters

from corral.cli.main import cli
from corral.mcp.tools import TOOL_NAMES
from tests.live import LiveServer, live_server, server_env
from tests.mcp.harness import error_text, payload

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def server(home: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(home, database_url) as running:
        yield running


@pytest.fixture
def run(home: Path, database_url: str, server: LiveServer) -> object:
    env = server_env(home, database_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = runner.invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    return invoke


def test_memory_commands(run, tmp_path: Path) -> None:
    run("projects", "create", "acme")
    made = json.loads(
        run(
            "memory",
            "remember",
            "acme",
            "Use PostgreSQL",
            "--kind",
            "decision",
            "--key",
            "db",
            "--json",
        ).output
    )
    assert made["outcome"] == "created"
    refused = run(
        "memory", "remember", "acme", "Use MySQL", "--kind", "decision", "--key", "db", ok=False
    )
    assert "memory_conflict" in refused.output
    assert (
        "Already remembered"
        in run(
            "memory", "remember", "acme", "use postgresql", "--kind", "decision", "--key", "db"
        ).output
    )
    run("memory", "remember", "acme", "-", "--kind", "task", stdin="Write the docs\n")
    task = json.loads(run("memory", "list", "acme", "--kind", "task", "--json").output)[0]
    run("memory", "brief", "acme", "--goal", "Ship it")
    assert "Ship it" in run("memory", "brief", "acme").output
    hits = json.loads(run("memory", "recall", "acme", "postgresql", "--json").output)
    assert [h["item"]["id"] for h in hits["hits"]] == [made["item"]["id"]]
    assert "Use PostgreSQL" in run("memory", "recall", "acme", "postgresql").output
    pack = run("open", "--recent").output
    assert "## Goal" in pack
    assert "Write the docs" in pack
    assert "Use PostgreSQL" in run("open", "acm", "--budget", "200").output
    assert "Use PostgreSQL" in run("memory", "restore", "acme", "--task", "database").output
    run("memory", "done", "acme", str(task["id"]))
    shown = json.loads(run("memory", "show", "acme", str(task["id"]), "--json").output)
    assert [v["change"] for v in shown["history"]] == ["created", "completed"]
    exported = tmp_path / "acme.jsonl"
    run("memory", "export", "acme", "-o", str(exported))
    run("projects", "create", "copy")
    imported = json.loads(run("memory", "import", "copy", str(exported), "--json").output)
    assert imported["imported"] == 2
    assert "## All current items" in run("memory", "export", "acme", "--format", "markdown").output
    run("memory", "forget", "acme", str(made["item"]["id"]), "--yes")
    assert json.loads(run("memory", "recall", "acme", "postgresql", "--json").output)["hits"] == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\nnot json\n')
    assert "nothing was stored" in run("memory", "import", "copy", str(bad), ok=False).output
    assert "give a project NAME or --recent" in run("open", ok=False).output


def test_mcp_over_stdio_reaches_the_server(run, home: Path, database_url: str) -> None:
    run("projects", "create", "acme")
    run("memory", "remember", "acme", "Deploy on Tuesdays", "--kind", "constraint")
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "corral.cli", "mcp"],
        env=server_env(home, database_url),
    )

    async def session() -> None:
        async with Client(parameters) as client:
            tools = await client.list_tools()
            assert sorted(t.name for t in tools.tools) == sorted(TOOL_NAMES)
            pack = payload(await client.call_tool("open_project", {"name": "acme"}))
            assert "Deploy on Tuesdays" in pack["markdown"]
            made = payload(
                await client.call_tool(
                    "remember", {"project": "acme", "content": "Fridays are frozen", "kind": "fact"}
                )
            )
            hits = payload(await client.call_tool("recall", {"project": "acme", "query": "friday"}))
            assert [h["item"]["id"] for h in hits["hits"]] == [made["item"]["id"]]
            missing = await client.call_tool("recall", {"project": "ghost", "query": "x"})
            assert "project_not_found" in error_text(missing)

    anyio.run(session)
