"""Real OpenTelemetry exporters against a running ``corral serve``, and a server killed
mid-ingest that loses nothing it acknowledged."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import httpx2
import pytest
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as ProtobufSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import corral
from corral.testing.traces import TraceShape, agent_trace_request
from tests.conftest import PostgresServer
from tests.live import live_server, start_server, stop, wait_ready

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'live.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"_otlp_{tmp_path.name[-12:].lower()}")


def admin_key(home: Path) -> str:
    return str(json.loads((home / "cli-config.json").read_text())["api_key"])


def test_real_exporters_in_protobuf_and_json(tmp_path: Path, empty_database_url: str) -> None:
    home = tmp_path / "home"
    with live_server(home, empty_database_url) as server:
        admin = corral.Client(url=server.url, api_key=admin_key(home))
        admin.projects.create("acme")
        headers = {"authorization": f"Bearer {admin.api_key}"}
        exporters = {
            "protobuf": ProtobufSpanExporter(
                endpoint=f"{server.url}/v1/traces", headers=headers, compression=Compression.Gzip
            ),
            "json": JsonSpanExporter(endpoint=f"{server.url}/v1/traces", headers=headers),
        }
        for encoding, exporter in exporters.items():
            provider = TracerProvider(
                resource=Resource.create({"service.name": encoding, "corral.project": "acme"})
            )
            provider.add_span_processor(BatchSpanProcessor(exporter))
            tracer = provider.get_tracer("test")
            with (
                tracer.start_as_current_span(
                    f"invoke_agent {encoding}",
                    attributes={
                        "gen_ai.operation.name": "invoke_agent",
                        "gen_ai.agent.name": encoding,
                        "gen_ai.conversation.id": f"s-{encoding}",
                    },
                ),
                tracer.start_as_current_span(
                    "chat",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": 10,
                        "gen_ai.usage.output_tokens": 5,
                    },
                ),
            ):
                pass
            assert provider.force_flush()
            provider.shutdown()
        traces = {t.agent_name: t for t in admin.traces.list("acme")}
        assert set(traces) == {"protobuf", "json"}
        for encoding, trace in traces.items():
            assert (trace.span_count, trace.llm_calls, trace.session_id) == (2, 1, f"s-{encoding}")
            tree = admin.traces.get("acme", trace.trace_id)
            assert tree.spans[1].model == "gpt-4o"
            assert tree.spans[1].cost_usd
        admin.close()


def test_the_corral_sdk_exports_to_a_live_server(tmp_path: Path, empty_database_url: str) -> None:
    home = tmp_path / "home"
    with live_server(home, empty_database_url) as server:
        admin = corral.Client(url=server.url, api_key=admin_key(home))
        admin.projects.create("acme")
        admin.agents.create("support-bot")
        admin.projects.grant_agent("acme", "support-bot")
        key = admin.keys.create("bot", agent="support-bot", projects=["acme"]).secret
        corral.configure(url=server.url, api_key=key, service_name="bot", set_global=False)
        try:
            with (
                corral.session("chat-9", user="u-1"),
                corral.agent("support-bot"),
                corral.tool("lookup"),
            ):
                pass
            assert corral.flush()
        finally:
            corral.shutdown()
        (trace,) = admin.traces.list("acme")
        assert (trace.agent_name, trace.session_id, trace.user_id) == (
            "support-bot",
            "chat-9",
            "u-1",
        )
        assert [s.span_type for s in admin.traces.get("acme", trace.trace_id).spans] == [
            "agent",
            "tool",
        ]
        admin.close()


def test_sigkill_during_ingest_loses_no_acknowledged_batch(
    tmp_path: Path, empty_database_url: str
) -> None:
    home = tmp_path / "home"
    with live_server(home, empty_database_url) as server:
        admin = corral.Client(url=server.url, api_key=admin_key(home))
        admin.projects.create("acme")
        key = admin.api_key
        admin.close()
    server = start_server(home, empty_database_url)
    wait_ready(server, 60)
    shape = TraceShape(project="acme", children=10)
    bodies = [agent_trace_request(10, shape=shape, seed=n).SerializeToString() for n in range(400)]
    acknowledged: list[int] = []
    enough = threading.Event()
    lock = threading.Lock()

    def send(worker: int) -> None:
        with httpx2.Client(timeout=30) as http:
            for n in range(worker, len(bodies), 3):
                try:
                    response = http.post(
                        f"{server.url}/v1/traces",
                        content=bodies[n],
                        headers={
                            "authorization": f"Bearer {key}",
                            "content-type": "application/x-protobuf",
                        },
                    )
                except httpx2.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(n)
                        if len(acknowledged) >= 15:
                            enough.set()

    senders = [threading.Thread(target=send, args=(w,)) for w in range(3)]
    for thread in senders:
        thread.start()
    assert enough.wait(120), server.log()
    stop(server, signal.SIGKILL)
    for thread in senders:
        thread.join(60)
    assert len(acknowledged) < len(bodies), "the kill came after everything was sent"

    with live_server(home, empty_database_url) as restarted:
        admin = corral.Client(url=restarted.url, api_key=key)
        stored = {t.trace_id: t for t in admin.traces.list("acme", limit=10_000)}
        for n in acknowledged:
            request = agent_trace_request(10, shape=shape, seed=n)
            trace_ids = {s.trace_id.hex() for s in request.resource_spans[0].scope_spans[0].spans}
            for trace_id in trace_ids:
                assert trace_id in stored, f"acknowledged batch {n} lost trace {trace_id}"
                assert stored[trace_id].span_count == 11
        admin.close()
