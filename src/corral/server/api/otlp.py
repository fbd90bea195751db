"""``POST /v1/traces``: the OTLP/HTTP trace receiver.

Any OpenTelemetry exporter can point here (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``). The answer is
sent only once the spans are committed, in the encoding the request used.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from corral.core.ingest import ingest_otlp
from corral.core.otlp import export_response
from corral.errors import ServiceUnavailable
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(tags=["traces"])

_MEDIA_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}


@router.post(
    "/traces",
    summary="Receive an OTLP/HTTP trace export (protobuf or JSON, gzip or not)",
    response_class=Response,
    responses={
        200: {
            "description": "ExportTraceServiceResponse, in the request's encoding",
            "content": {"application/x-protobuf": {}, "application/json": {}},
        },
        400: {"description": "The body is not a valid OTLP export"},
        413: {"description": "The body is too large"},
        503: {"description": "Too many exports at once; retry after the Retry-After delay"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def export_traces(request: Request, rt: RuntimeDep, actor: Actor) -> Response:
    async with _turn(request):
        body = await request.body()
        outcome = await run_in_threadpool(
            ingest_otlp,
            rt,
            actor,
            body,
            content_type=request.headers.get("content-type"),
            content_encoding=request.headers.get("content-encoding"),
        )
    content = export_response(
        outcome.encoding, rejected_spans=outcome.rejected, error_message=outcome.message
    )
    return Response(content, media_type=_MEDIA_TYPES[outcome.encoding])


@asynccontextmanager
async def _turn(request: Request) -> AsyncIterator[None]:
    """Bound the exports in flight; past the wait, tell the exporter to retry later (OTLP
    exporters retry 503 with back-off), which is back-pressure rather than lost spans."""
    settings = request.app.state.runtime.settings
    gate: asyncio.Semaphore | None = getattr(request.app.state, "otlp_gate", None)
    if gate is None:
        gate = request.app.state.otlp_gate = asyncio.Semaphore(settings.otlp_max_concurrent_exports)
    try:
        await asyncio.wait_for(gate.acquire(), settings.otlp_queue_timeout_seconds)
    except TimeoutError as exc:
        raise ServiceUnavailable(
            "Corral is ingesting as fast as it can; retry this export shortly.",
            code="ingest_busy",
            details={"retry_after_seconds": 1},
        ) from exc
    try:
        yield
    finally:
        gate.release()
