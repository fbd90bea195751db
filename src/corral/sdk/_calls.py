"""One description of each API call, shared by the sync and the async client."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx2
from pydantic import TypeAdapter

from corral.errors import error_from_response

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8600"


@dataclass(frozen=True)
class Call(Generic[T]):
    """An HTTP request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)
    content: bytes | None = None
    """A raw body (sent instead of ``json``) and its media type."""
    content_type: str | None = None
    raw: bool = False
    """Hand the response text to ``parse`` instead of decoded JSON."""

    def headers(self, base: Mapping[str, str]) -> dict[str, str]:
        if self.content_type is None:
            return dict(base)
        return {**base, "content-type": self.content_type}


def segment(value: str | int) -> str:
    """A value placed in a URL path, escaped."""
    return quote(str(value), safe="")


def parser(kind: Any) -> Callable[[Any], Any]:
    """A function turning decoded JSON into ``kind`` (a pydantic model or a typing form)."""
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    return adapter.validate_python


def no_content(_body: Any) -> None:
    return None


def body_of(**values: Any) -> dict[str, Any]:
    """A JSON body without the arguments the caller left out (None)."""
    return {k: v for k, v in values.items() if v is not None}


def resolve_settings(url: str | None, api_key: str | None) -> tuple[str, str | None]:
    return (
        (url or os.environ.get("CORRAL_URL") or DEFAULT_URL).rstrip("/"),
        api_key or os.environ.get("CORRAL_API_KEY"),
    )


def default_headers(api_key: str | None) -> dict[str, str]:
    from corral import __version__

    headers = {"user-agent": f"corral-python/{__version__}"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


def read_response(call: Call[T], response: httpx2.Response) -> T:
    """The parsed answer, or the :class:`~corral.errors.CorralError` the server reported."""
    if response.status_code >= 400:
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        raise error_from_response(response.status_code, payload)
    if call.raw:
        return call.parse(response.text)
    if response.status_code == 204 or not response.content:
        return call.parse(None)
    return call.parse(response.json())
