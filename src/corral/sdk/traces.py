"""``client.traces`` and ``client.sessions``: reading what agents did."""

from __future__ import annotations

import builtins
from typing import Any

from corral.schemas.common import Page
from corral.schemas.detection import SessionClearance, SessionHalt
from corral.schemas.observability import (
    HandoffGraph,
    PurgeResult,
    SessionSummary,
    SpanDetail,
    SpanSummary,
    TraceMetrics,
    TraceSummary,
    TraceTree,
)
from corral.sdk import _detection_operations as dops
from corral.sdk import _traces_operations as ops
from corral.sdk._traces_operations import Moment


class _Resource:
    def __init__(self, client: Any) -> None:
        self._client = client


def _take(pages: builtins.list[Any], limit: int) -> builtins.list[Any]:
    return [item for page in pages for item in page.data][:limit]


class Traces(_Resource):
    """Traces of a project. ``list`` and ``page`` take the same filters."""

    def page(self, project: str, **filters: Any) -> Page[TraceSummary]:
        """One page of traces, newest first; pass ``cursor=page.next_cursor`` for the next.

        Filters: ``agent`` (root agent), ``user``, ``session``, ``model``, ``status``
        (``ok``/``error``), ``since``, ``until``, ``search`` (text in inputs, outputs or tool
        calls), ``limit`` (1-500), ``cursor``.
        """
        return self._client.call(ops.list_traces(project, **filters))  # type: ignore[no-any-return]

    def list(self, project: str, *, limit: int = 50, **filters: Any) -> builtins.list[TraceSummary]:
        """Up to ``limit`` traces, newest first, following pages as needed."""
        items: builtins.list[TraceSummary] = []
        cursor = None
        while len(items) < limit:
            page = self.page(project, limit=min(500, limit - len(items)), cursor=cursor, **filters)
            items.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return items

    def get(self, project: str, trace_id: str) -> TraceTree:
        """A trace and its spans in depth-first order."""
        return self._client.call(ops.get_trace(project, trace_id))  # type: ignore[no-any-return]

    def span(self, project: str, trace_id: str, span_id: str) -> SpanDetail:
        """One span with its raw attributes and events."""
        return self._client.call(ops.get_span(project, trace_id, span_id))  # type: ignore[no-any-return]

    def handoff_graph(
        self,
        project: str,
        *,
        session: str | None = None,
        agent: str | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
    ) -> HandoffGraph:
        """Handoffs and tool calls of a session, or around an agent."""
        call = ops.handoff_graph(project, session=session, agent=agent, since=since, until=until)
        return self._client.call(call)  # type: ignore[no-any-return]

    def metrics(self, **options: Any) -> TraceMetrics:
        """Calls, tokens, cost, errors and latency p50/p95 over time.

        Options: ``projects`` (default: all you can read), ``group_by`` (agent, project, user,
        model), ``interval`` (minute, hour, day), ``span_type`` (default ``llm``; ``all`` for
        every span), ``since``, ``until``.
        """
        return self._client.call(ops.trace_metrics(**options))  # type: ignore[no-any-return]

    def purge(
        self,
        project: str,
        *,
        before: Moment | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> PurgeResult:
        """Delete traces by age, session or user (project admins; audited)."""
        call = ops.purge_traces(project, before=before, session_id=session_id, user_id=user_id)
        return self._client.call(call)  # type: ignore[no-any-return]

    def export(self, document: dict[str, Any]) -> dict[str, Any]:
        """Send an OTLP/JSON trace export (what an OpenTelemetry exporter posts), e.g. spans
        converted from another system's logs. Returns the OTLP answer (``partialSuccess``)."""
        return self._client.call(ops.export_traces(document))  # type: ignore[no-any-return]


class Sessions(_Resource):
    """Sessions (runs or conversations) of a project."""

    def page(self, project: str, **filters: Any) -> Page[SessionSummary]:
        """One page of sessions, latest first. Filters: ``agent``, ``user``, ``status``,
        ``since``, ``until``, ``limit``, ``cursor``."""
        return self._client.call(ops.list_sessions(project, **filters))  # type: ignore[no-any-return]

    def list(
        self, project: str, *, limit: int = 50, **filters: Any
    ) -> builtins.list[SessionSummary]:
        items: builtins.list[SessionSummary] = []
        cursor = None
        while len(items) < limit:
            page = self.page(project, limit=min(500, limit - len(items)), cursor=cursor, **filters)
            items.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return items

    def get(self, project: str, session_id: str) -> SessionSummary:
        return self._client.call(ops.get_session(project, session_id))  # type: ignore[no-any-return]

    def timeline(self, project: str, session_id: str) -> builtins.list[SpanSummary]:
        """Every span of the session in the order they started."""
        return self._client.collect(  # type: ignore[no-any-return]
            lambda cursor: ops.session_timeline(project, session_id, cursor=cursor)
        )

    def graph(self, project: str, session_id: str) -> HandoffGraph:
        return self._client.call(ops.handoff_graph(project, session=session_id))  # type: ignore[no-any-return]

    def check(self, project: str, session_id: str) -> SessionClearance:
        """Raise :class:`corral.SessionHalted` (naming the finding) if the circuit breaker
        halted this session; call it before an agent's next step."""
        return self._client.call(dops.check_session(project, session_id))  # type: ignore[no-any-return]

    def resume(self, project: str, session_id: str, *, note: str | None = None) -> SessionHalt:
        """Let a halted session go on (audited)."""
        return self._client.call(dops.resume_session(project, session_id, note))  # type: ignore[no-any-return]

    def halts(
        self, project: str, *, session: str | None = None, resumed: bool = False
    ) -> builtins.list[SessionHalt]:
        """Halted sessions, newest first; ``resumed=True`` includes those already resumed."""
        call = dops.list_halts(project, session=session, resumed=resumed)
        return self._client.call(call)  # type: ignore[no-any-return]


class AsyncTraces(_Resource):
    """The asynchronous :class:`Traces`."""

    async def page(self, project: str, **filters: Any) -> Page[TraceSummary]:
        return await self._client.call(ops.list_traces(project, **filters))  # type: ignore[no-any-return]

    async def list(
        self, project: str, *, limit: int = 50, **filters: Any
    ) -> builtins.list[TraceSummary]:
        items: builtins.list[TraceSummary] = []
        cursor = None
        while len(items) < limit:
            page = await self.page(
                project, limit=min(500, limit - len(items)), cursor=cursor, **filters
            )
            items.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return items

    async def get(self, project: str, trace_id: str) -> TraceTree:
        return await self._client.call(ops.get_trace(project, trace_id))  # type: ignore[no-any-return]

    async def span(self, project: str, trace_id: str, span_id: str) -> SpanDetail:
        return await self._client.call(ops.get_span(project, trace_id, span_id))  # type: ignore[no-any-return]

    async def handoff_graph(
        self,
        project: str,
        *,
        session: str | None = None,
        agent: str | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
    ) -> HandoffGraph:
        call = ops.handoff_graph(project, session=session, agent=agent, since=since, until=until)
        return await self._client.call(call)  # type: ignore[no-any-return]

    async def metrics(self, **options: Any) -> TraceMetrics:
        return await self._client.call(ops.trace_metrics(**options))  # type: ignore[no-any-return]

    async def purge(
        self,
        project: str,
        *,
        before: Moment | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
    ) -> PurgeResult:
        call = ops.purge_traces(project, before=before, session_id=session_id, user_id=user_id)
        return await self._client.call(call)  # type: ignore[no-any-return]

    async def export(self, document: dict[str, Any]) -> dict[str, Any]:
        return await self._client.call(ops.export_traces(document))  # type: ignore[no-any-return]


class AsyncSessions(_Resource):
    """The asynchronous :class:`Sessions`."""

    async def page(self, project: str, **filters: Any) -> Page[SessionSummary]:
        return await self._client.call(ops.list_sessions(project, **filters))  # type: ignore[no-any-return]

    async def list(
        self, project: str, *, limit: int = 50, **filters: Any
    ) -> builtins.list[SessionSummary]:
        items: builtins.list[SessionSummary] = []
        cursor = None
        while len(items) < limit:
            page = await self.page(
                project, limit=min(500, limit - len(items)), cursor=cursor, **filters
            )
            items.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return items

    async def get(self, project: str, session_id: str) -> SessionSummary:
        return await self._client.call(ops.get_session(project, session_id))  # type: ignore[no-any-return]

    async def timeline(self, project: str, session_id: str) -> builtins.list[SpanSummary]:
        return await self._client.collect(  # type: ignore[no-any-return]
            lambda cursor: ops.session_timeline(project, session_id, cursor=cursor)
        )

    async def graph(self, project: str, session_id: str) -> HandoffGraph:
        return await self._client.call(ops.handoff_graph(project, session=session_id))  # type: ignore[no-any-return]

    async def check(self, project: str, session_id: str) -> SessionClearance:
        return await self._client.call(dops.check_session(project, session_id))  # type: ignore[no-any-return]

    async def resume(
        self, project: str, session_id: str, *, note: str | None = None
    ) -> SessionHalt:
        return await self._client.call(dops.resume_session(project, session_id, note))  # type: ignore[no-any-return]

    async def halts(
        self, project: str, *, session: str | None = None, resumed: bool = False
    ) -> builtins.list[SessionHalt]:
        call = dops.list_halts(project, session=session, resumed=resumed)
        return await self._client.call(call)  # type: ignore[no-any-return]
