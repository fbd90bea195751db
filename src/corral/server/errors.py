"""Every failure becomes a JSON body with a stable code; never a stack trace to the client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from corral.core.request_context import request_id_var
from corral.errors import CorralError, InvalidRequest, MalformedRequest

log = logging.getLogger("corral.server")

_HTTP_CODES = {
    404: ("route_not_found", "no such endpoint; the API reference is at /docs."),
    405: ("method_not_allowed", "this endpoint does not accept that HTTP method."),
}


_NOT_AN_OBJECT = {"model_attributes_type", "dict_type", "model_type"}


def error_response(error: CorralError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        error.to_body(request_id_var.get()), status_code=error.status, headers=headers
    )


def _validation_error(exc: RequestValidationError) -> CorralError:
    problems: list[dict[str, Any]] = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            reason = err.get("ctx", {}).get("error", "")
            return MalformedRequest(
                f"the request body is not valid JSON: {reason}".strip(), code="malformed_json"
            )
        if tuple(err.get("loc", ())) == ("body",) and err.get("type") in _NOT_AN_OBJECT:
            return MalformedRequest(
                "the request body must be a JSON object; send it with "
                "'Content-Type: application/json'.",
                code="malformed_json",
            )
        location = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        problems.append({"field": location, "problem": err.get("msg", ""), "type": err.get("type")})
    summary = "; ".join(f"{p['field'] or 'body'}: {p['problem']}" for p in problems[:5])
    return InvalidRequest(f"invalid request: {summary}", details={"errors": problems})


def corral_error_response(error: CorralError) -> JSONResponse:
    """A :class:`CorralError` as the client gets it, with the headers its status calls for."""
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    retry_after = error.details.get("retry_after_seconds")
    if error.status in (429, 503) and retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return error_response(error, headers)


HtmlErrors = Callable[[Request, CorralError], Response | None]


def install_error_handlers(app: FastAPI, html_errors: HtmlErrors | None = None) -> None:
    """JSON errors everywhere; ``html_errors`` may answer with a page instead (the console)."""

    async def on_corral_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CorralError)
        page = html_errors(request, exc) if html_errors else None
        if page is not None:
            return page
        return corral_error_response(exc)

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(_validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if isinstance(exc.__cause__, CorralError):  # raised while FastAPI read the body
            return error_response(exc.__cause__)
        code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
        error = CorralError(message, code=code, status=exc.status_code)
        page = html_errors(request, error) if html_errors else None
        return page if page is not None else error_response(error)

    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request %s", request_id_var.get(), exc_info=exc)
        return error_response(
            CorralError(
                "internal server error; the server log has the details under this request id.",
                code="internal_error",
                status=500,
            )
        )

    app.add_exception_handler(CorralError, on_corral_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
