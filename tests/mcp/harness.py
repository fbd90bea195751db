"""Driving Corral's ``/mcp`` endpoint in-process with the real MCP client library."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Run the app's lifespan in the test's event loop (so /mcp's session manager runs)."""
    async with app.router.lifespan_context(app):
        yield


@asynccontextmanager
async def mcp_client(app: FastAPI, key: str | None) -> AsyncIterator[Client]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), headers=headers)
    async with (
        http,
        Client(streamable_http_client("http://testserver/mcp", http_client=http)) as client,
    ):
        yield client


def payload(result: Any) -> Any:
    """The JSON a tool returned (structured content when present, else its text)."""
    if result.structured_content is not None:
        content = result.structured_content
        return (
            content.get("result", content)
            if isinstance(content, dict) and set(content) == {"result"}
            else content
        )
    return json.loads(result.content[0].text)


def error_text(result: Any) -> str:
    assert result.is_error, result
    return str(result.content[0].text)
