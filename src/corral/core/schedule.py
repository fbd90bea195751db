"""The background jobs a server runs. Each area adds its jobs to :func:`background_jobs`."""

from __future__ import annotations

from corral.core.jobs import Job


def background_jobs() -> list[Job]:
    """Every periodic job of the server (each takes leadership before it runs)."""
    return []
