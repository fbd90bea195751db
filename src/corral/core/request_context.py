"""Per-request facts that deep layers need without threading them through every call."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("corral_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the HTTP request being served, if any (set by the server's middleware)."""
    return request_id_var.get()
