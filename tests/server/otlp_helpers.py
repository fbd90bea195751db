"""Building and sending OTLP exports in tests."""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from corral.core.otlp import encode_key_values

BASE_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z, the ManualClock's start


def span(
    trace: int,
    span_id: int,
    parent: int | None = None,
    *,
    name: str = "step",
    start_ms: int = 0,
    duration_ms: int = 10,
    error: str | None = None,
    **attributes: Any,
) -> Span:
    """A span of trace number ``trace`` (ids are derived from the numbers)."""
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        start_time_unix_nano=BASE_NS + start_ms * 1_000_000,
        end_time_unix_nano=BASE_NS + (start_ms + duration_ms) * 1_000_000,
        attributes=encode_key_values({k.replace("__", "."): v for k, v in attributes.items()}),
        status=Status(code=Status.STATUS_CODE_ERROR, message=error)
        if error
        else Status(code=Status.STATUS_CODE_UNSET),
    )


def export(*spans: Span, project: str | None = None, **resource: Any) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    attrs = {"service.name": "test-agent", **resource}
    if project is not None:
        attrs["corral.project"] = project
    group.resource.attributes.extend(encode_key_values(attrs))
    group.scope_spans.add().spans.extend(spans)
    return request


def trace_id_hex(trace: int) -> str:
    return trace.to_bytes(16, "big").hex()


def span_id_hex(span_id: int) -> str:
    return span_id.to_bytes(8, "big").hex()


def to_otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP/JSON form of a request: camelCase fields and hex (not base64) ids."""
    from google.protobuf import json_format

    document: dict[str, Any] = json_format.MessageToDict(request)
    for group in document.get("resourceSpans", []):
        for scope in group.get("scopeSpans", []):
            for item in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in item:
                        import base64

                        item[key] = base64.b64decode(item[key]).hex()
    return document


def post_protobuf(
    http: TestClient, key: str, request: ExportTraceServiceRequest, *, compress: bool = False
) -> Any:
    body = request.SerializeToString()
    headers = {"authorization": f"Bearer {key}", "content-type": "application/x-protobuf"}
    if compress:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    return http.post("/v1/traces", content=body, headers=headers)


def post_json(http: TestClient, key: str, document: Any, *, header: str = "x-api-key") -> Any:
    headers = {"content-type": "application/json"}
    headers[header] = key if header == "x-api-key" else f"Bearer {key}"
    return http.post("/v1/traces", content=json.dumps(document), headers=headers)
