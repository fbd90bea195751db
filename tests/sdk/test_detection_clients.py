"""The detection resources of the async client mirror the sync ones."""

from __future__ import annotations

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import corral
from corral.core.detection.live import running_detector
from corral.core.runtime import Runtime
from corral.errors import error_from_response
from tests.server.otlp_helpers import export, span, to_otlp_json


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def loop_export(times: int) -> dict[str, object]:
    spans = [
        span(
            1,
            n,
            name="execute_tool convert",
            start_ms=n,
            gen_ai__operation__name="execute_tool",
            gen_ai__tool__name="convert",
            gen_ai__tool__call__arguments='{"amount": 5}',
            gen_ai__tool__call__result=f"{n} EUR",
            gen_ai__conversation__id="chat-9",
            gen_ai__agent__name="bot",
        )
        for n in range(1, times + 1)
    ]
    return to_otlp_json(export(*spans, project="async-one"))


@pytest.mark.anyio
async def test_async_findings_and_breaker(
    app: FastAPI, http: TestClient, admin_key: str, runtime: Runtime
) -> None:
    transport = httpx2.ASGITransport(app=app)
    async with corral.AsyncClient(
        url="http://testserver",
        api_key=admin_key,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as client:
        await client.projects.create("async-one")
        view = await client.findings.configure("async-one", halt_on=["tool_loop"])
        assert view.overrides == {"halt_on": ["tool_loop"]}
        assert (await client.findings.settings("async-one")).effective.halt_on == ["tool_loop"]
        assert await client.traces.export(loop_export(6)) == {}
        detector = running_detector(runtime)
        assert detector is not None
        assert detector.wait_idle(30)
        [finding] = await client.findings.list("async-one")
        assert (await client.findings.page("async-one")).data == [finding]
        assert (await client.findings.get("async-one", finding.id)).evidence
        assert (await client.findings.acknowledge("async-one", finding.id)).status == "acknowledged"
        assert (await client.findings.resolve("async-one", finding.id)).status == "resolved"
        assert (await client.findings.reopen("async-one", finding.id)).status == "open"
        with pytest.raises(corral.SessionHalted):
            await client.sessions.check("async-one", "chat-9")
        [halt] = await client.sessions.halts("async-one")
        assert halt.finding_id == finding.id
        await client.sessions.resume("async-one", "chat-9", note="ok")
        assert (await client.sessions.check("async-one", "chat-9")).halted is False


def test_session_halted_is_rebuilt_from_its_code() -> None:
    body = {"error": {"code": "session_halted", "message": "halted", "details": {"finding_id": 4}}}
    error = error_from_response(409, body)
    assert isinstance(error, corral.SessionHalted)
    assert isinstance(error, corral.Conflict)
    assert error.details == {"finding_id": 4}
    assert type(error_from_response(409, {"error": {"code": "project_exists"}})) is corral.Conflict
