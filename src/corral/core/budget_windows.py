"""Budget windows: which counter bucket a moment falls in, and when a window resets.

Pure functions of time, so the window rules are tested without a database or a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

Window = Literal["total", "day", "month", "rolling"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(window: Window, moment: datetime) -> datetime:
    """The counter bucket ``moment`` is charged to: the calendar day or month (UTC), one bucket
    for all time, or the hour for rolling windows."""
    moment = moment.astimezone(UTC)
    if window == "total":
        return EPOCH
    if window == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "month":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def window_buckets(
    window: Window, moment: datetime, rolling_hours: int | None
) -> tuple[datetime, datetime]:
    """The first and last bucket counted in the window that contains ``moment`` (inclusive)."""
    current = bucket_start(window, moment)
    if window != "rolling":
        return current, current
    assert rolling_hours
    return current - timedelta(hours=rolling_hours - 1), current


def resets_at(window: Window, moment: datetime, rolling_hours: int | None) -> datetime | None:
    """When the window containing ``moment`` starts afresh (None: never). For rolling windows,
    when the oldest hour now counted drops out."""
    current = bucket_start(window, moment)
    if window == "total":
        return None
    if window == "day":
        return current + timedelta(days=1)
    if window == "month":
        return (current + timedelta(days=32)).replace(day=1)
    first, _ = window_buckets(window, moment, rolling_hours)
    assert rolling_hours
    return first + timedelta(hours=rolling_hours)
