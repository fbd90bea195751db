"""An agent's usual session, for the runaway rule: the 95th percentiles of the steps, tokens and
cost of its recent completed sessions, read from the session rollups and cached briefly (a
baseline moves slowly; reading it for every batch of spans would not)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from corral.core.detection.rules import Baseline
from corral.core.trace_metrics import percentile
from corral.db.schema import SessionRow, SpanRow

BASELINE_SESSIONS = 50
"""How many of the agent's latest completed sessions the baseline is made of."""
COMPLETED_AFTER = timedelta(minutes=10)
"""A session with no span for this long counts as completed."""
CACHE_SECONDS = 60.0


def agent_baseline(
    uow: Session, project_id: int, agent: str, now: datetime, *, sessions: int = BASELINE_SESSIONS
) -> Baseline | None:
    """The agent's baseline in a project, or None when it has no completed session yet."""
    rows = uow.execute(
        select(
            SessionRow.session_id,
            SessionRow.input_tokens + SessionRow.output_tokens,
            SessionRow.cost_usd,
        )
        .where(
            SessionRow.project_id == project_id,
            SessionRow.agent_name == agent,
            SessionRow.last_seen < now - COMPLETED_AFTER,
        )
        .order_by(SessionRow.last_seen.desc())
        .limit(sessions)
    ).all()
    if not rows:
        return None
    # Steps are LLM and tool calls, as the runaway rule counts them; the rollup has no tool
    # count, so they are counted from the spans of these few sessions.
    steps = dict(
        uow.execute(
            select(
                SpanRow.session_id, func.count(case((SpanRow.span_type.in_(("llm", "tool")), 1)))
            )
            .where(
                SpanRow.project_id == project_id,
                SpanRow.session_id.in_([r[0] for r in rows]),
            )
            .group_by(SpanRow.session_id)
        ).all()
    )
    return Baseline(
        sessions=len(rows),
        p95_steps=percentile((float(steps.get(r[0], 0)) for r in rows), 0.95),
        p95_tokens=percentile((float(r[1] or 0) for r in rows), 0.95),
        p95_cost_usd=percentile((float(r[2] or 0.0) for r in rows), 0.95),
    )


class BaselineCache:
    """Baselines by (project, agent), each kept for ``CACHE_SECONDS``."""

    def __init__(self, ttl_seconds: float = CACHE_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[tuple[int, str], tuple[float, Baseline | None]] = {}
        self._lock = threading.Lock()

    def get(self, uow: Session, project_id: int, agent: str, now: datetime) -> Baseline | None:
        key = (project_id, agent)
        moment = time.monotonic()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and cached[0] > moment:
            return cached[1]
        baseline = agent_baseline(uow, project_id, agent, now)
        with self._lock:
            if len(self._entries) > 10_000:  # many agents: start over rather than grow forever
                self._entries.clear()
            self._entries[key] = (moment + self._ttl, baseline)
        return baseline
