"""Corral: the control plane for AI agents in production.

``import corral`` gives the SDK only; it never loads the server stack (FastAPI, SQLAlchemy).
"""

from corral._version import __version__
from corral.errors import (
    Conflict,
    CorralError,
    Forbidden,
    InvalidRequest,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    SessionHalted,
    Unauthenticated,
)
from corral.sdk.client import AsyncClient, Client
from corral.sdk.tracing import (
    TracingStats,
    agent,
    configure,
    flush,
    instrument_anthropic,
    instrument_openai,
    session,
    shutdown,
    tool,
    tracing_stats,
)

__all__ = [
    "AsyncClient",
    "Client",
    "Conflict",
    "CorralError",
    "Forbidden",
    "InvalidRequest",
    "MalformedRequest",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "SessionHalted",
    "TracingStats",
    "Unauthenticated",
    "__version__",
    "agent",
    "configure",
    "flush",
    "instrument_anthropic",
    "instrument_openai",
    "session",
    "shutdown",
    "tool",
    "tracing_stats",
]
