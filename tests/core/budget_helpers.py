"""Helpers shared by the budget tests."""

from __future__ import annotations

from corral.core.budgets import Amounts


def usd(dollars: float) -> Amounts:
    """``dollars`` as an amount to hold, in nano-USD and no tokens."""
    return Amounts(round(dollars * 1_000_000_000), 0)
