"""Stored sessions for detection tests: spans written through the real span store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from corral.core.normalize import NormalizedSpan
from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.db.schema import ProjectRow

START = datetime(2026, 1, 1, tzinfo=UTC)


def make_project(rt: Runtime, name: str = "acme") -> int:
    with rt.db.write() as uow:
        project = ProjectRow(name=name, description="", created_at=START, last_active_at=START)
        uow.add(project)
        uow.flush()
        return project.id


class Session:
    """Spans of one session, numbered in the order they are made (1 ms apart)."""

    def __init__(
        self,
        session: str | None = "s1",
        *,
        trace: int = 1,
        agent: str = "planner",
        start: datetime = START,
    ) -> None:
        self.session = session
        self.trace_id = f"{trace:032x}"
        self.agent = agent
        self.start = start
        self.count = 0

    def _span(self, **fields: Any) -> NormalizedSpan:
        self.count += 1
        moment = self.start + timedelta(milliseconds=self.count)
        return NormalizedSpan(
            trace_id=self.trace_id,
            span_id=f"{int(self.trace_id, 16) % 2**32:08x}{self.count:08x}",
            parent_span_id=fields.pop("parent", f"{int(self.trace_id, 16) % 2**32:08x}{0:08x}"),
            name=fields.pop("name", "step"),
            start_time=moment,
            end_time=moment + timedelta(microseconds=500),
            session_id=self.session,
            agent_name=fields.pop("agent", self.agent),
            **fields,
        )

    def tool(
        self, name: str, args: dict[str, Any], result: str = "ok", *, status: str = "ok"
    ) -> NormalizedSpan:
        return self._span(
            span_type="tool",
            tool_name=name,
            tool_arguments=json.dumps(args),
            tool_result=result,
            status=status,
        )

    def say(
        self, text: str, *, tokens: int = 300, cost: float = 0.001, agent: str | None = None
    ) -> NormalizedSpan:
        return self._span(
            span_type="llm",
            output_text=text,
            input_tokens=tokens - 50,
            output_tokens=50,
            cost_usd=cost,
            agent=agent or self.agent,
        )

    def loop(self, times: int, tool: str = "convert") -> list[NormalizedSpan]:
        """The same call again; its answer changes each time (a rate that moves), so only the
        tool-loop rule applies, not the same-call-same-result one."""
        return [self.tool(tool, {"amount": 5}, f"{self.count + 1} EUR") for _ in range(times)]


def store(rt: Runtime, project_id: int, spans: list[NormalizedSpan]) -> None:
    record_spans(rt, [(project_id, spans)])
