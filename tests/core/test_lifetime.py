"""When kept values are read again: ahead once past half their time, always once past it."""

from __future__ import annotations

import pytest

from corral.core.lifetime import Lifetime


@pytest.mark.parametrize(
    ("age", "due", "expired"),
    [
        (0.0, False, False),
        (4.99, False, False),
        (5.0, True, False),
        (9.99, True, False),
        (10.0, True, True),
        (60.0, True, True),
    ],
)
def test_a_value_is_due_at_half_its_time_and_expired_at_its_end(
    age: float, due: bool, expired: bool
) -> None:
    lifetime = Lifetime(10.0)
    assert (lifetime.due(age), lifetime.expired(age)) == (due, expired)


def test_a_value_never_kept_is_always_expired() -> None:
    assert Lifetime(0.0).expired(0.0)
