"""The ``trace-statistics`` job: fresh planner statistics for the span tables."""

from __future__ import annotations

from corral.core.runtime import Runtime
from corral.db.maintenance import refresh_statistics
from corral.db.schema import SessionRow, SpanRow, TraceRow

TABLES = (SpanRow.__tablename__, TraceRow.__tablename__, SessionRow.__tablename__)


def refresh_trace_statistics(rt: Runtime) -> None:
    """Analyze the span, trace and session tables (run at start and then periodically)."""
    refresh_statistics(rt.db, TABLES)
