"""The ``trace-statistics`` job: fresh planner statistics for the span tables and for memory
items (the tables that grow to millions of rows, where a stale plan costs the most)."""

from __future__ import annotations

from corral.core.runtime import Runtime
from corral.db.maintenance import refresh_statistics
from corral.db.schema import MemoryItemRow, MemoryVersionRow, SessionRow, SpanRow, TraceRow

TABLES = (
    SpanRow.__tablename__,
    TraceRow.__tablename__,
    SessionRow.__tablename__,
    MemoryItemRow.__tablename__,
    MemoryVersionRow.__tablename__,
)


def refresh_trace_statistics(rt: Runtime) -> None:
    """Analyze the span, trace, session and memory item tables (at start, then periodically)."""
    refresh_statistics(rt.db, TABLES)
