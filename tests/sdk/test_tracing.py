"""The tracing SDK: scopes, GenAI attributes, content capture, and a Corral that is down."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import corral
from tests.live import free_port


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    corral.configure(exporter=memory, set_global=False, schedule_delay=60)
    yield memory
    corral.shutdown()


def finished(memory: InMemorySpanExporter) -> dict[str, dict[str, object]]:
    assert corral.flush()
    return {s.name: dict(s.attributes or {}) for s in memory.get_finished_spans()}


def test_session_agent_and_tool_set_genai_attributes(spans: InMemorySpanExporter) -> None:
    @corral.tool("lookup_order")
    def lookup_order(order_id: int) -> dict[str, int]:
        return {"order": order_id}

    with corral.session("chat-1", user="u-7"), corral.agent("planner", version="3"):
        assert lookup_order(42) == {"order": 42}
    found = finished(spans)
    assert found["invoke_agent planner"] == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "gen_ai.agent.version": "3",
        "gen_ai.conversation.id": "chat-1",
        "user.id": "u-7",
    }
    tool = found["execute_tool lookup_order"]
    assert tool["gen_ai.tool.name"] == "lookup_order"
    assert tool["gen_ai.conversation.id"] == "chat-1"
    assert tool["gen_ai.agent.name"] == "planner"
    # Content capture is off by default: arguments and results stay in the process.
    assert "gen_ai.tool.call.arguments" not in tool
    assert "gen_ai.tool.call.result" not in tool
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert by_name["execute_tool lookup_order"].parent.span_id == (
        by_name["invoke_agent planner"].context.span_id
    )


def test_scopes_end_with_their_block(spans: InMemorySpanExporter) -> None:
    with corral.session("a"):
        pass
    with corral.tool("outside"):
        pass
    assert "gen_ai.conversation.id" not in finished(spans)["execute_tool outside"]


def test_content_capture_with_redaction() -> None:
    memory = InMemorySpanExporter()
    corral.configure(
        exporter=memory,
        set_global=False,
        capture_content=True,
        redact=lambda text: text.replace("ada@example.com", "<email>"),
    )
    try:

        @corral.tool("send_mail")
        def send_mail(to: str) -> str:
            return f"sent to {to}"

        send_mail("ada@example.com")
        with corral.tool("manual", arguments={"to": "ada@example.com"}) as call:
            call.span.set_attribute("input.value", "from ada@example.com")
            call.record_result("done for ada@example.com")
        found = finished(memory)
    finally:
        corral.shutdown()
    assert found["execute_tool send_mail"]["gen_ai.tool.call.arguments"] == '{"to": "<email>"}'
    assert found["execute_tool send_mail"]["gen_ai.tool.call.result"] == "sent to <email>"
    assert found["execute_tool manual"]["gen_ai.tool.call.arguments"] == '{"to": "<email>"}'
    assert found["execute_tool manual"]["input.value"] == "from <email>"
    assert found["execute_tool manual"]["gen_ai.tool.call.result"] == "done for <email>"


def test_errors_mark_the_span_and_propagate(spans: InMemorySpanExporter) -> None:
    @corral.tool("flaky")
    async def flaky() -> None:
        raise ValueError("upstream said no")

    with pytest.raises(ValueError, match="upstream said no"):
        asyncio.run(flaky())
    corral.flush()
    (span,) = spans.get_finished_spans()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "ValueError"


def test_a_corral_that_is_down_never_blocks_or_crashes_the_agent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    corral.configure(
        url=f"http://127.0.0.1:{free_port()}",
        api_key="crl_x_y",
        set_global=False,
        max_queue_size=10,
        max_export_batch_size=5,
        schedule_delay=0.01,
        export_timeout=0.2,
    )
    before = dataclasses.replace(corral.tracing_stats())
    try:
        with caplog.at_level(logging.WARNING, logger="corral.tracing"):
            for index in range(200):
                with corral.tool(f"t{index}"):
                    pass
            assert corral.flush(timeout=1) in (True, False)  # bounded, whatever it says
    finally:
        corral.shutdown()
    stats = corral.tracing_stats()
    assert stats.dropped > before.dropped
    assert stats.failed > before.failed
    assert stats.exported == before.exported
    assert any("spans dropped" in record.getMessage() for record in caplog.records)


def test_instrumenting_needs_configure_first() -> None:
    corral.shutdown()
    with pytest.raises(RuntimeError, match="configure"):
        corral.instrument_openai()


def test_importing_corral_does_not_load_opentelemetry() -> None:
    import subprocess
    import sys

    code = (
        "import sys, corral\n"
        "corral.session, corral.agent, corral.tool, corral.configure\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'opentelemetry', 'google', 'genai_prices', 'openinference'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_instrument_openai_reports_calls_inside_the_session(spans: InMemorySpanExporter) -> None:
    import httpx2
    import openai
    from openinference.instrumentation.openai import OpenAIInstrumentor

    from tests.server.api.test_instrumentations import fake_openai

    corral.instrument_openai()
    try:
        client = openai.OpenAI(
            api_key="sk-test",
            base_url="http://fake-openai/v1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(fake_openai)),
        )
        with corral.session("chat-7", user="u-2"), corral.agent("support"):
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "secret question"}]
            )
    finally:
        OpenAIInstrumentor().uninstrument()
    found = finished(spans)
    (llm,) = [a for a in found.values() if a.get("openinference.span.kind") == "LLM"]
    assert llm["llm.token_count.prompt"] == 1200
    assert (llm["gen_ai.conversation.id"], llm["user.id"]) == ("chat-7", "u-2")
    assert llm["gen_ai.agent.name"] == "support"
    # Content capture is off: the prompt never leaves the process.
    assert not any("secret question" in str(value) for value in llm.values())
