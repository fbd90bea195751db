"""The async memory client mirrors the sync one (same operations, same errors)."""

from __future__ import annotations

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import corral


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_memory_client(app: FastAPI, http: TestClient, admin_key: str) -> None:
    transport = httpx2.ASGITransport(app=app)
    async with corral.AsyncClient(
        url="http://testserver",
        api_key=admin_key,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as client:
        await client.projects.create("async-mem")
        made = await client.memory.remember(
            "async-mem", "Use Redis for caching", kind="decision", key="cache"
        )
        with pytest.raises(corral.Conflict):
            await client.memory.remember("async-mem", "Use Memcached", kind="decision", key="cache")
        batch = await client.memory.remember_many(
            "async-mem", [{"content": "Cache keys expire after an hour", "kind": "fact"}]
        )
        assert batch.created == 1
        hits = await client.memory.recall("async-mem", "caching redis")
        assert hits.hits[0].item.id == made.item.id
        task = await client.memory.remember("async-mem", "Warm the cache", kind="task")
        assert (await client.memory.complete("async-mem", task.item.id)).status == "done"
        await client.memory.update_brief("async-mem", goal="Fast pages")
        assert (await client.memory.brief("async-mem")).goal == "Fast pages"
        pack = await client.memory.open("async-me", task="cache")
        assert "Use Redis for caching" in pack.markdown
        assert (await client.memory.open_recent()).project == "async-mem"
        exported = await client.memory.export("async-mem")
        await client.projects.create("async-copy")
        assert (await client.memory.import_jsonl("async-copy", exported)).imported == 3
        await client.memory.forget("async-mem", made.item.id)
        assert [i.id for i in await client.memory.list("async-mem", kinds=["decision"])] == []
        assert (
            len(
                await client.memory.history(
                    "async-copy", (await client.memory.list("async-copy"))[0].id
                )
            )
            >= 1
        )
        with pytest.raises(corral.NotFound):
            await client.memory.get("async-mem", made.item.id)
