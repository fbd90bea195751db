"""Opaque cursors for keyset pagination: stable under inserts, cheap at any depth."""

from __future__ import annotations

import base64
import json
from typing import Any

from corral.errors import InvalidRequest

MAX_PAGE_SIZE = 500


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The sort-key values a cursor holds; a cursor that was tampered with is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            "the cursor is not one this server issued.", code="invalid_cursor"
        ) from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidRequest("the cursor is not one this server issued.", code="invalid_cursor")
    return values
