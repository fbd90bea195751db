from __future__ import annotations

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import corral


def test_sync_client_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRAL_URL", "http://corral.internal:9000/")
    monkeypatch.setenv("CORRAL_API_KEY", "crl_abc_def")
    client = corral.Client()
    assert (client.url, client.api_key) == ("http://corral.internal:9000", "crl_abc_def")
    explicit = corral.Client(url="http://x", api_key="crl_1_2")
    assert (explicit.url, explicit.api_key) == ("http://x", "crl_1_2")
    client.close()
    explicit.close()


def test_errors_carry_code_status_and_details(admin: corral.Client) -> None:
    with pytest.raises(corral.NotFound) as err:
        admin.projects.get("ghost")
    assert (err.value.status, err.value.code) == (404, "project_not_found")
    assert err.value.details == {"project": "ghost"}
    assert isinstance(err.value, corral.CorralError)


def test_non_json_error_bodies_are_still_errors() -> None:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(502, text="bad gateway"))
    client = corral.Client(
        url="http://x", api_key="crl_a_b", http_client=httpx2.Client(transport=transport)
    )
    with pytest.raises(corral.CorralError) as err:
        client.status()
    assert err.value.status == 502
    assert "bad gateway" in err.value.message


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_mirrors_sync(app: FastAPI, http: TestClient, admin_key: str) -> None:
    transport = httpx2.ASGITransport(app=app)
    async with corral.AsyncClient(
        url="http://testserver",
        api_key=admin_key,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as client:
        project = await client.projects.create("async-one", description="from async")
        assert (await client.projects.get("async-one")) == project
        agent = await client.agents.create("async-bot")
        await client.projects.grant_agent("async-one", "async-bot")
        key = await client.keys.create("k", agent=agent.name, projects=["async-one"])
        assert key.owner_name == "async-bot"
        assert [p.name for p in await client.projects.list()] == ["async-one"]
        assert (await client.status()).principal.workspace_admin
        with pytest.raises(corral.Conflict):
            await client.projects.create("async-one")


@pytest.mark.anyio
async def test_async_rollouts(app: FastAPI, http: TestClient, admin_key: str) -> None:
    transport = httpx2.ASGITransport(app=app)
    async with corral.AsyncClient(
        url="http://testserver",
        api_key=admin_key,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as client:
        await client.agents.create("async-bot")
        await client.agents.create_version("async-bot", config={"model": "gpt-4o-mini"})
        await client.agents.deploy("async-bot", 1)
        await client.agents.create_version("async-bot", changes={"model": "gpt-4o"})
        rollouts = client.agents.rollouts
        started = await rollouts.start(
            "async-bot", 2, steps=[{"weight": 20, "min_minutes": 10}], analysis={"min_sessions": 3}
        )
        assert (started.steps[0].weight, started.analysis.min_sessions) == (20, 3)
        assert (await rollouts.pause("async-bot", started.id)).status == "paused"
        assert (await rollouts.resume("async-bot", started.id)).status == "running"
        assert (await rollouts.analyze("async-bot", started.id)).results == []
        assert [r.id for r in await rollouts.list("async-bot")] == [started.id]
        assert (await rollouts.get("async-bot", started.id)).live is not None
        assert (await rollouts.promote("async-bot", started.id)).status == "succeeded"
        with pytest.raises(corral.Conflict):
            await rollouts.abort("async-bot", started.id)
