"""Spans from an OpenInference instrumentation and from a GenAI-convention instrumentation of the
same ``openai`` call land with the same canonical fields."""

from __future__ import annotations

import warnings
from typing import Any

import httpx2
import openai
import pytest
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import corral
from tests.conftest import bearer


def fake_openai(_request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Your refund is on its way."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 300,
                "total_tokens": 1500,
                "prompt_tokens_details": {"cached_tokens": 1000},
                "completion_tokens_details": {"reasoning_tokens": 100},
            },
        },
    )


def traced_call(instrumentor: Any, project: str) -> bytes:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"corral.project": project}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with warnings.catch_warnings():
        # OpenLLMetry still declares a pydantic v1-style config when it instruments.
        warnings.simplefilter("ignore", DeprecationWarning)
        instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(
            api_key="sk-test",
            base_url="http://fake-openai/v1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(fake_openai)),
        )
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Where is my refund?"}]
        )
    finally:
        instrumentor.uninstrument()
    spans = memory.get_finished_spans()
    assert len(spans) == 1
    return bytes(encode_spans(spans).SerializeToString())


@pytest.mark.parametrize("project", ["alpha"])
def test_openinference_and_genai_conventions_agree(
    http: TestClient, admin: corral.Client, project: str
) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor as GenAIConventions

    admin.projects.create(project)
    headers = {**bearer(admin.api_key or ""), "content-type": "application/x-protobuf"}
    canonical = {}
    for name, instrumentor in (("openinference", OpenInference()), ("genai", GenAIConventions())):
        body = traced_call(instrumentor, project)
        response = http.post("/v1/traces", content=body, headers=headers)
        assert response.status_code == 200, response.text
        (trace,) = [t for t in admin.traces.list(project) if t.trace_id not in canonical]
        (span,) = admin.traces.get(project, trace.trace_id).spans
        detail = admin.traces.span(project, trace.trace_id, span.span_id)
        canonical[trace.trace_id] = (name, detail)
    (oi, oi_span), (genai, genai_span) = canonical.values()
    assert (oi, genai) == ("openinference", "genai")
    fields = (
        "span_type",
        "model",
        "provider",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "reasoning_tokens",
        "cost_usd",
        "price_version",
        "status",
    )
    assert {f: getattr(oi_span, f) for f in fields} == {f: getattr(genai_span, f) for f in fields}
    assert (oi_span.span_type, oi_span.model, oi_span.provider) == (
        "llm",
        "gpt-4o-2024-08-06",
        "openai",
    )
    assert (oi_span.input_tokens, oi_span.cache_read_tokens, oi_span.reasoning_tokens) == (
        1200,
        1000,
        100,
    )
    # gpt-4o: 200 uncached input at $2.5/M, 1000 cached at $1.25/M, 300 output at $10/M.
    assert oi_span.cost_usd == pytest.approx(200 * 2.5e-6 + 1000 * 1.25e-6 + 300 * 10e-6)
    for span in (oi_span, genai_span):
        assert "Where is my refund?" in (span.input_text or "")
        assert "Your refund is on its way." in (span.output_text or "")
