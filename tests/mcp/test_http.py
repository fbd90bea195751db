"""The MCP tools over streamable HTTP at /mcp, with the real MCP client library."""

from __future__ import annotations

import httpx2
import pytest
from fastapi import FastAPI

from corral.core.bootstrap import bootstrap_workspace
from corral.core.runtime import Runtime
from corral.mcp.tools import TOOL_NAMES
from corral.server.app import create_app
from tests.mcp.harness import error_text, mcp_client, payload, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime)


async def test_tools_work_end_to_end(app: FastAPI, runtime: Runtime) -> None:
    key = bootstrap_workspace(runtime)
    assert key
    async with running(app), mcp_client(app, key) as client:
        tools = await client.list_tools()
        assert sorted(t.name for t in tools.tools) == sorted(TOOL_NAMES)
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            made = await http.post(
                "/v1/projects", json={"name": "acme"}, headers={"authorization": f"Bearer {key}"}
            )
            assert made.status_code == 201
        listed = payload(await client.call_tool("list_projects", {}))
        assert [p["name"] for p in listed] == ["acme"]
        created = payload(
            await client.call_tool(
                "remember",
                {"project": "acme", "content": "Use PostgreSQL", "kind": "decision", "key": "db"},
            )
        )
        assert created["outcome"] == "created"
        conflict = await client.call_tool(
            "remember",
            {"project": "acme", "content": "Use MySQL", "kind": "decision", "key": "db"},
        )
        assert "memory_conflict" in error_text(conflict)
        task = payload(
            await client.call_tool(
                "remember", {"project": "acme", "content": "Add an index", "kind": "task"}
            )
        )
        hits = payload(await client.call_tool("recall", {"project": "acme", "query": "postgresql"}))
        assert [h["item"]["id"] for h in hits["hits"]] == [created["item"]["id"]]
        pack = payload(await client.call_tool("open_project", {"recent": True}))
        assert pack["project"] == "acme"
        assert "Use PostgreSQL" in pack["markdown"]
        assert [t["id"] for t in pack["open_tasks"]] == [task["item"]["id"]]
        done = payload(
            await client.call_tool(
                "complete_task", {"project": "acme", "item_id": task["item"]["id"]}
            )
        )
        assert done["status"] == "done"
        restored = payload(await client.call_tool("restore", {"project": "acme", "budget": 500}))
        assert restored["open_tasks"] == []
        payload(
            await client.call_tool("forget", {"project": "acme", "item_id": created["item"]["id"]})
        )
        again = payload(
            await client.call_tool("recall", {"project": "acme", "query": "postgresql"})
        )
        assert again["hits"] == []
        denied = await client.call_tool("recall", {"project": "ghost", "query": "x"})
        assert "project_not_found" in error_text(denied)


async def test_requests_without_a_valid_key_are_refused(app: FastAPI, runtime: Runtime) -> None:
    bootstrap_workspace(runtime)
    async with (
        running(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "missing_credentials"
        bad = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"authorization": "Bearer crl_nope_nope"},
        )
        assert bad.status_code == 401
