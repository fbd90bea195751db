from __future__ import annotations

from datetime import UTC, datetime

from corral.core.budget_windows import EPOCH, bucket_start, resets_at, window_buckets

T = datetime(2026, 2, 28, 23, 59, 30, tzinfo=UTC)


def test_calendar_buckets_and_resets() -> None:
    assert bucket_start("day", T) == datetime(2026, 2, 28, tzinfo=UTC)
    assert resets_at("day", T, None) == datetime(2026, 3, 1, tzinfo=UTC)
    assert bucket_start("month", T) == datetime(2026, 2, 1, tzinfo=UTC)
    assert resets_at("month", T, None) == datetime(2026, 3, 1, tzinfo=UTC)
    dec = datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert resets_at("month", dec, None) == datetime(2027, 1, 1, tzinfo=UTC)
    assert bucket_start("total", T) == EPOCH
    assert resets_at("total", T, None) is None


def test_rolling_window_covers_the_last_hours() -> None:
    first, last = window_buckets("rolling", T, 3)
    assert (first, last) == (
        datetime(2026, 2, 28, 21, tzinfo=UTC),
        datetime(2026, 2, 28, 23, tzinfo=UTC),
    )
    assert resets_at("rolling", T, 3) == datetime(2026, 3, 1, 0, tzinfo=UTC)


def test_zones_are_normalised_to_utc() -> None:
    from datetime import timedelta, timezone

    tokyo = T.astimezone(timezone(timedelta(hours=9)))
    assert bucket_start("day", tokyo) == bucket_start("day", T)
