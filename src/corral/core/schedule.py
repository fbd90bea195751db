"""The background jobs a server runs. Each area adds its jobs to :func:`background_jobs`."""

from __future__ import annotations

from corral.core.alerts import deliver_webhooks
from corral.core.audit_trail import write_checkpoint
from corral.core.budgets import expire_reservations
from corral.core.jobs import Job
from corral.core.metric_alerts import evaluate_metric_rules
from corral.core.retention import enforce_retention
from corral.core.rollouts import evaluate_rollouts
from corral.core.span_index import INTERVAL_SECONDS, index_span_text
from corral.core.statistics import refresh_trace_statistics
from corral.settings import Settings


def background_jobs(settings: Settings) -> list[Job]:
    """Every periodic job of the server (each takes leadership before it runs)."""
    return [
        Job("audit-checkpoint", settings.audit_checkpoint_minutes * 60, write_checkpoint),
        Job("budget-expiry", 60, expire_reservations),
        Job("webhook-delivery", 2, deliver_webhooks),
        Job("metric-rules", settings.metric_rules_interval_seconds, evaluate_metric_rules),
        Job("rollout-analysis", settings.rollout_interval_seconds, evaluate_rollouts),
        Job("span-search-index", INTERVAL_SECONDS, index_span_text),
        Job("trace-retention", settings.retention_interval_seconds, enforce_retention),
        Job("trace-statistics", settings.statistics_interval_seconds, refresh_trace_statistics),
    ]
