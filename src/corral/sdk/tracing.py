"""Tracing for agents, on the OpenTelemetry SDK.

``corral.configure(...)`` once, then mark what the agent does::

    corral.configure(project="acme", service_name="support-bot")

    with corral.session("chat-42", user="u-7"):
        with corral.agent("planner"):
            ...

    @corral.tool("lookup_order")
    def lookup_order(order_id: int) -> dict: ...

``session`` scopes a conversation: every span started inside it, including those of
instrumentation libraries, carries its session and user. ``agent`` and ``tool`` are spans in the
GenAI semantic conventions. Spans are exported in the background in batches; when Corral cannot be
reached they wait in a bounded buffer, then are dropped and counted, never blocking the agent.

OpenTelemetry is imported on first use, so ``import corral`` stays light.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

Redactor = Callable[[str], str]
"""Turns a captured message or payload into what may leave the process."""


@dataclass
class TracingStats:
    """What the exporter did so far in this process."""

    exported: int = 0
    dropped: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Scope:
    attributes: tuple[tuple[str, str], ...] = ()

    def with_(self, **values: str | None) -> _Scope:
        merged = dict(self.attributes)
        merged.update({k: v for k, v in values.items() if v is not None})
        return _Scope(tuple(merged.items()))


_NO_SCOPE = _Scope()
_scope: contextvars.ContextVar[_Scope] = contextvars.ContextVar("corral_scope", default=_NO_SCOPE)


def current_scope_attributes() -> tuple[tuple[str, str], ...]:
    """The session, user and agent attributes of the current context (read by the processor)."""
    return _scope.get().attributes


@dataclass
class _Tracing:
    provider: Any = None
    processor: Any = None
    tracer: Any = None
    capture_content: bool = False
    redact: Redactor | None = None
    stats: TracingStats = field(default_factory=TracingStats)


_state = _Tracing()
_lock = threading.Lock()


def configure(
    *,
    url: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    service_name: str | None = None,
    capture_content: bool = False,
    redact: Redactor | None = None,
    max_queue_size: int = 2048,
    max_export_batch_size: int = 512,
    schedule_delay: float = 1.0,
    export_timeout: float = 5.0,
    set_global: bool = True,
    exporter: Any = None,
) -> Any:
    """Send this process's spans to Corral. Call once, early; later calls replace the setup.

    Args:
        url: Corral server; defaults to ``CORRAL_URL``, then ``http://127.0.0.1:8600``.
        api_key: Key with ``traces:write``; defaults to ``CORRAL_API_KEY``.
        project: Project the spans belong to (the ``corral.project`` resource attribute);
            optional when the key is limited to one project.
        service_name: ``service.name`` of the resource (the agent program).
        capture_content: Keep message and tool payloads in spans. Off by default: prompts,
            completions and tool arguments are removed before export.
        redact: Applied to every captured payload before export (e.g. to mask emails).
        max_queue_size: Spans buffered while Corral is slow or down; beyond, new spans are
            dropped and counted (:func:`tracing_stats`), with a warning.
        max_export_batch_size: Spans per export request.
        schedule_delay: Seconds between exports when the buffer is not full.
        export_timeout: Seconds one export may take, retries included (also bounds the flush
            at exit).
        set_global: Also make this the global OpenTelemetry tracer provider, so that
            instrumentation libraries report to Corral.
        exporter: A span exporter to use instead of OTLP/HTTP (tests).

    Returns:
        The OpenTelemetry ``TracerProvider``.
    """
    from corral.sdk import _otel
    from corral.sdk._calls import resolve_settings

    base_url, key = resolve_settings(url, api_key)
    with _lock:
        if _state.provider is not None:
            _state.provider.shutdown()
        _state.capture_content = capture_content
        _state.redact = redact
        _state.provider, _state.processor = _otel.build_provider(
            endpoint=f"{base_url}/v1/traces",
            api_key=key,
            project=project,
            service_name=service_name,
            exporter=exporter,
            stats=_state.stats,
            capture_content=capture_content,
            redact=redact,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay=schedule_delay,
            export_timeout=export_timeout,
            set_global=set_global,
        )
        _state.tracer = _state.provider.get_tracer("corral")
    return _state.provider


def flush(timeout: float = 10.0) -> bool:
    """Export every finished span now; True when all went out. Called at exit too."""
    if _state.provider is None:
        return True
    return bool(_state.provider.force_flush(int(timeout * 1000)))


def shutdown() -> None:
    """Flush and stop exporting (configure again to resume)."""
    with _lock:
        if _state.provider is not None:
            _state.provider.shutdown()
            _state.provider = _state.processor = _state.tracer = None


def tracing_stats() -> TracingStats:
    """Spans exported, dropped (buffer full) and failed (Corral refused or unreachable)."""
    return _state.stats


def _tracer() -> Any:
    if _state.tracer is None:
        from opentelemetry import trace

        return trace.get_tracer("corral")
    return _state.tracer


def _captured(value: Any) -> str | None:
    """A payload as it may be exported: None unless content capture is on, then redacted."""
    if not _state.capture_content:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return _state.redact(text) if _state.redact else text


class _Decorating:
    """Shared by session, agent and tool: a context manager that is also a decorator."""

    def _enter(self) -> Any:
        raise NotImplementedError

    def _exit(self, state: Any, error: BaseException | None) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self._state = self._enter()
        return self

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self._exit(self._state, error)

    def __call__(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._fresh(function, args, kwargs) as span:
                    result = await function(*args, **kwargs)
                    self._result(span, result)
                    return result

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh(function, args, kwargs) as span:
                result = function(*args, **kwargs)
                self._result(span, result)
                return result

        return run  # type: ignore[return-value]

    @contextmanager
    def _fresh(self, function: Callable[..., Any], args: Any, kwargs: Any) -> Iterator[Any]:
        # Each call of a decorated function gets its own state (calls may overlap in threads).
        state = self._enter_call(function, args, kwargs)
        error: BaseException | None = None
        try:
            yield state
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._exit(state, error)

    def _enter_call(self, function: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        return self._enter()

    def _result(self, state: Any, result: Any) -> None:
        return None


class session(_Decorating):
    """Scope a conversation: spans started inside carry its id (``gen_ai.conversation.id``) and
    user (``user.id``). Not a span itself."""

    def __init__(self, session_id: str, *, user: str | None = None) -> None:
        self.session_id = session_id
        self.user = user

    def _enter(self) -> Any:
        scope = _scope.get().with_(
            **{"gen_ai.conversation.id": self.session_id, "user.id": self.user}
        )
        return _scope.set(scope)

    def _exit(self, token: Any, error: BaseException | None) -> None:
        _scope.reset(token)


class _SpanScope(_Decorating):
    @property
    def span(self) -> Any:
        """The OpenTelemetry span (inside the ``with`` block), to add attributes or events."""
        return self._state[0]

    def _span_name(self) -> str:
        raise NotImplementedError

    def _attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def _scope_values(self) -> dict[str, str | None]:
        return {}

    def _enter(self) -> Any:
        return self._start(self._attributes())

    def _start(self, attributes: dict[str, Any]) -> Any:
        from opentelemetry import trace

        token = _scope.set(_scope.get().with_(**self._scope_values()))
        span = _tracer().start_span(self._span_name(), attributes=attributes)
        context_token = trace.use_span(span, end_on_exit=False)
        context_token.__enter__()
        return (span, context_token, token)

    def _exit(self, state: Any, error: BaseException | None) -> None:
        span, context_token, token = state
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.set_attribute("error.type", type(error).__name__)
        context_token.__exit__(None, None, None)
        span.end()
        _scope.reset(token)


class agent(_SpanScope):
    """An agent at work: an ``invoke_agent`` span; spans inside it belong to this agent."""

    def __init__(self, name: str, *, version: str | None = None, id: str | None = None) -> None:
        self.name = name
        self.version = version
        self.id = id

    def _span_name(self) -> str:
        return f"invoke_agent {self.name}"

    def _attributes(self) -> dict[str, Any]:
        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": self.name}
        if self.version:
            attributes["gen_ai.agent.version"] = self.version
        if self.id:
            attributes["gen_ai.agent.id"] = self.id
        return attributes

    def _scope_values(self) -> dict[str, str | None]:
        return {"gen_ai.agent.name": self.name}


class tool(_SpanScope):
    """A tool call: an ``execute_tool`` span. As a decorator it records the call's arguments and
    result when content capture is on (after the redaction hook)."""

    def __init__(self, name: str, *, arguments: Any = None) -> None:
        self.name = name
        self.arguments = arguments

    def _span_name(self) -> str:
        return f"execute_tool {self.name}"

    def _attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": self.name,
        }
        if self.arguments is not None:
            captured = _captured(self.arguments)
            if captured is not None:
                attributes["gen_ai.tool.call.arguments"] = captured
        return attributes

    def _enter_call(self, function: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        attributes = self._attributes()
        if _state.capture_content:
            try:
                bound = inspect.signature(function).bind(*args, **kwargs)
                captured = _captured(dict(bound.arguments))
            except TypeError:
                captured = _captured({"args": list(args), "kwargs": kwargs})
            if captured is not None:
                attributes["gen_ai.tool.call.arguments"] = captured
        return self._start(attributes)

    def _result(self, state: Any, result: Any) -> None:
        captured = _captured(result)
        if captured is not None:
            state[0].set_attribute("gen_ai.tool.call.result", captured)

    def record_result(self, result: Any) -> None:
        """Attach a result to the tool span (inside ``with corral.tool(...)``)."""
        self._result(self._state, result)


def instrument_openai() -> None:
    """Trace every call of the ``openai`` client library, with the maintained OpenInference
    instrumentation (``pip install 'corral[openai]'``). Call after :func:`configure`."""
    try:
        from openinference.instrumentation.openai import OpenAIInstrumentor
    except ImportError as exc:
        raise ImportError("instrumenting openai needs: pip install 'corral[openai]'") from exc
    _instrument(OpenAIInstrumentor())


def instrument_anthropic() -> None:
    """Trace every call of the ``anthropic`` client library, with the maintained OpenInference
    instrumentation (``pip install 'corral[anthropic]'``). Call after :func:`configure`."""
    try:
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
    except ImportError as exc:
        raise ImportError("instrumenting anthropic needs: pip install 'corral[anthropic]'") from exc
    _instrument(AnthropicInstrumentor())


def _instrument(instrumentor: Any) -> None:
    if _state.provider is None:
        raise RuntimeError("call corral.configure(...) before instrumenting a client library")
    from openinference.instrumentation import TraceConfig

    hidden = not _state.capture_content
    config = TraceConfig(
        hide_inputs=hidden,
        hide_outputs=hidden,
        hide_input_messages=hidden,
        hide_output_messages=hidden,
    )
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=_state.provider, config=config)
