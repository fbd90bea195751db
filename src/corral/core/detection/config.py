"""Detector settings (the model lives in ``schemas`` for the API) and the matching helpers."""

from __future__ import annotations

import fnmatch
import functools
import re

from corral.schemas.detection import (
    DEFAULT_POLLING,
    DEFAULT_READ_ONLY,
    DEFAULT_WRITES,
    DetectorSettings,
)

__all__ = [
    "DEFAULT_POLLING",
    "DEFAULT_READ_ONLY",
    "DEFAULT_WRITES",
    "ROUTING_PATTERNS",
    "DetectorSettings",
    "is_routing_boilerplate",
    "matches_any",
]

ROUTING_PATTERNS = [
    r"^\s*next speaker:?\s*\w+\s*$",
    r"^\s*there is no code from the last \d+ messages? for me to execute",
    r"^\s*(handing|passing|transferring|routing) (over |off )?to \w+\.?\s*$",
]


def matches_any(name: str, patterns: list[str]) -> bool:
    """Whether ``name`` matches one of the globs, ignoring case."""
    return _globs(tuple(patterns)).match(name.lower()) is not None


@functools.lru_cache(maxsize=256)
def _globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    # One regular expression per list of globs: the rules ask about every span.
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join(f"(?:{fnmatch.translate(p.lower())})" for p in patterns))


def is_routing_boilerplate(text: str | None) -> bool:
    """A message that only says who speaks next: not progress, and not a loop by itself."""
    return bool(text) and any(
        re.match(p, text or "", flags=re.IGNORECASE) for p in ROUTING_PATTERNS
    )
