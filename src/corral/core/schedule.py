"""The background jobs a server runs. Each area adds its jobs to :func:`background_jobs`."""

from __future__ import annotations

from corral.core.jobs import Job
from corral.core.retention import enforce_retention
from corral.core.statistics import refresh_trace_statistics
from corral.settings import Settings


def background_jobs(settings: Settings | None = None) -> list[Job]:
    """Every periodic job of the server (each takes leadership before it runs)."""
    settings = settings or Settings()
    return [
        Job("trace-retention", settings.retention_interval_seconds, enforce_retention),
        Job("trace-statistics", settings.statistics_interval_seconds, refresh_trace_statistics),
    ]
