"""The OpenTelemetry side of :mod:`corral.sdk.tracing` (imported only by ``configure``)."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from corral.sdk.tracing import Redactor, TracingStats, current_scope_attributes

log = logging.getLogger("corral.tracing")

CONTENT_PREFIXES = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "input.value",
    "output.value",
    "llm.input_messages",
    "llm.output_messages",
    "llm.prompts",
    "tool.parameters",
)
"""Attributes that carry message or payload content (several conventions)."""

WARN_EVERY_SECONDS = 30.0
RETRY_CAP_SECONDS = 30.0


def build_provider(
    *,
    endpoint: str,
    api_key: str | None,
    project: str | None,
    service_name: str | None,
    exporter: SpanExporter | None,
    stats: TracingStats,
    capture_content: bool,
    redact: Redactor | None,
    max_queue_size: int,
    max_export_batch_size: int,
    schedule_delay: float,
    export_timeout: float,
    set_global: bool,
) -> tuple[TracerProvider, CorralSpanProcessor]:
    attributes: dict[str, Any] = {}
    if service_name:
        attributes["service.name"] = service_name
    if project:
        attributes["corral.project"] = project
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=export_timeout)
    processor = CorralSpanProcessor(
        exporter,
        stats=stats,
        capture_content=capture_content,
        redact=redact,
        max_queue_size=max_queue_size,
        max_export_batch_size=max_export_batch_size,
        schedule_delay=schedule_delay,
        export_timeout=export_timeout,
    )
    provider.add_span_processor(processor)
    if set_global:
        _set_global(provider)
    return provider, processor


def _set_global(provider: TracerProvider) -> None:
    # OpenTelemetry allows setting the global provider once per process; a later configure()
    # swaps what the global proxy delegates to instead.
    current = trace.get_tracer_provider()
    if isinstance(current, trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    elif isinstance(current, _GlobalSwitch):
        current.target = provider
    else:
        log.debug("a global tracer provider is already set; Corral's is not made global")


class _GlobalSwitch:
    def __init__(self, target: TracerProvider) -> None:
        self.target = target


class CorralSpanProcessor(SpanProcessor):
    """Stamps the session, user and agent of the current scope on every span as it starts,
    strips or redacts content as it ends, and exports in batches from a background thread.

    The agent's thread only appends to a bounded buffer. When the buffer is full (Corral slow or
    down), spans are dropped and counted rather than blocking the agent or growing memory.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        stats: TracingStats,
        capture_content: bool,
        redact: Redactor | None,
        max_queue_size: int,
        max_export_batch_size: int,
        schedule_delay: float,
        export_timeout: float,
    ) -> None:
        self._exporter = exporter
        self._stats = stats
        self._capture = capture_content
        self._redact = redact
        self._max_queue = max_queue_size
        self._batch = max_export_batch_size
        self._delay = schedule_delay
        self._export_timeout = export_timeout
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._stopped = False
        self._last_warning = 0.0
        self._failures = 0
        self._retry_at = 0.0
        self._thread = threading.Thread(target=self._run, name="corral-span-export", daemon=True)
        self._thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        for key, value in current_scope_attributes():
            if key not in attributes:
                span.set_attribute(key, value)

    def on_end(self, span: ReadableSpan) -> None:
        if self._stopped:
            return
        if len(self._queue) >= self._max_queue:
            self._stats.dropped += 1
            self._warn("the export buffer is full")
            return
        self._queue.append(self._cleaned(span))
        if len(self._queue) >= self._batch:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        while self._queue and time.monotonic() < deadline:
            self._export_once()
        return not self._queue

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        self._thread.join(self._export_timeout)
        self.force_flush(int(self._export_timeout * 1000))
        self._exporter.shutdown()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(max(self._delay, self._retry_at - time.monotonic()))
            self._wake.clear()
            # After a failed export, wait before the next attempt: encoding and sending batches
            # to a Corral that is down would only take CPU from the agent.
            while self._queue and not self._stopped and time.monotonic() >= self._retry_at:
                self._export_once()

    def _export_once(self) -> None:
        with self._export_lock:
            batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            if not batch:
                return
            try:
                result = self._exporter.export(batch)
            except Exception:  # an exporter bug must not kill the export thread
                log.debug("span export raised", exc_info=True)
                result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self._stats.exported += len(batch)
            self._failures, self._retry_at = 0, 0.0
        else:
            self._stats.failed += len(batch)
            self._failures += 1
            self._retry_at = time.monotonic() + min(RETRY_CAP_SECONDS, 0.5 * 2**self._failures)
            self._warn("Corral did not accept an export")

    def _warn(self, reason: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(
                "Corral tracing: %s; %d spans dropped and %d failed so far "
                "(the agent is not affected).",
                reason,
                self._stats.dropped,
                self._stats.failed,
            )

    def _cleaned(self, span: ReadableSpan) -> ReadableSpan:
        attributes = span.attributes or {}
        content = [k for k in attributes if k.startswith(CONTENT_PREFIXES)]
        if not content or (self._capture and self._redact is None):
            return span
        kept: dict[str, Any] = dict(attributes)
        for key in content:
            if not self._capture:
                del kept[key]
            elif isinstance(kept[key], str) and self._redact is not None:
                kept[key] = self._redact(kept[key])
        return _with_attributes(span, kept)


def _with_attributes(span: ReadableSpan, attributes: dict[str, Any]) -> ReadableSpan:
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=_events(span),
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _events(span: ReadableSpan) -> Sequence[Any]:
    return span.events
