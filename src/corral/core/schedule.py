"""The background jobs a server runs. Each area adds its jobs to :func:`background_jobs`."""

from __future__ import annotations

from corral.core.alerts import deliver_webhooks
from corral.core.audit_trail import write_checkpoint
from corral.core.budgets import expire_reservations
from corral.core.jobs import Job
from corral.settings import Settings


def background_jobs(settings: Settings) -> list[Job]:
    """Every periodic job of the server (each takes leadership before it runs)."""
    return [
        Job("audit-checkpoint", settings.audit_checkpoint_minutes * 60, write_checkpoint),
        Job("budget-expiry", 60, expire_reservations),
        Job("webhook-delivery", 2, deliver_webhooks),
    ]
