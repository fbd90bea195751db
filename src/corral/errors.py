"""Errors shared by the server, the SDK and the CLI.

Every error a user can meet has a stable ``code`` (what scripts match on), a ``message`` a person
can act on, an HTTP ``status`` and optional ``details``. The server turns them into JSON bodies of
the form ``{"error": {"code", "message", "details", "request_id"}}`` and the SDK turns those bodies
back into the same classes, so a caller handles ``corral.NotFound`` whether it talks to the server
in-process or over HTTP.

This module imports nothing beyond the standard library: the SDK depends on it.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CorralError(Exception):
    """Base class of every error Corral reports to a caller."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = details or {}
        if status is not None:
            self.status = status  # type: ignore[misc]

    def to_body(self, request_id: str | None = None) -> dict[str, Any]:
        """The JSON body the server sends for this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        if request_id:
            body["request_id"] = request_id
        return {"error": body}

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


class InvalidRequest(CorralError):
    """The request is well-formed but a value in it is not acceptable."""

    status = 422
    default_code = "invalid_request"


class MalformedRequest(CorralError):
    """The request body cannot be parsed at all."""

    status = 400
    default_code = "malformed_request"


class Unauthenticated(CorralError):
    """No credentials, or credentials that do not identify an active principal."""

    status = 401
    default_code = "unauthenticated"


class Forbidden(CorralError):
    """The caller is known but not allowed to do this."""

    status = 403
    default_code = "forbidden"


class NotFound(CorralError):
    status = 404
    default_code = "not_found"


class Conflict(CorralError):
    """The request clashes with the current state (a duplicate name, a contradiction)."""

    status = 409
    default_code = "conflict"


class SessionHalted(Conflict):
    """The session was halted by the circuit breaker because of a finding; a person must resume
    it before its agent may go on. ``details`` name the finding."""

    default_code = "session_halted"


class PayloadTooLarge(CorralError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(CorralError):
    status = 429
    default_code = "rate_limited"


class ServiceUnavailable(CorralError):
    status = 503
    default_code = "service_unavailable"


class DatabaseBusy(ServiceUnavailable):
    """The database's write slot stayed taken for ``seconds``: the client may retry."""

    default_code = "database_busy"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the database stayed busy for {seconds:.0f} s; retry the request.")


_BY_STATUS: dict[int, type[CorralError]] = {
    cls.status: cls
    for cls in (
        MalformedRequest,
        InvalidRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        ServiceUnavailable,
    )
}


_BY_CODE: dict[str, type[CorralError]] = {"session_halted": SessionHalted}
"""Errors callers catch by class rather than by status."""


def error_from_response(status: int, body: Any) -> CorralError:
    """Rebuild the error the server reported from an HTTP status and its decoded JSON body."""
    cls = _BY_STATUS.get(status, CorralError)
    payload = body.get("error") if isinstance(body, dict) else None
    if isinstance(payload, dict) and payload.get("code") in _BY_CODE:
        cls = _BY_CODE[str(payload["code"])]
    if not isinstance(payload, dict):
        text = body if isinstance(body, str) else repr(body)
        return cls(f"HTTP {status}: {text[:500]}", code="http_error", status=status)
    message = str(payload.get("message") or f"HTTP {status}")
    code = str(payload.get("code") or "http_error")
    details = payload.get("details")
    error = cls(message, code=code, details=details if isinstance(details, dict) else None)
    error.status = status  # type: ignore[misc]
    return error
