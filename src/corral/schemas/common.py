"""Shapes shared by every area of the API."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{0,62}$")
NAME_RULE = (
    "names are 1-63 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"
)


def _check_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid name: {NAME_RULE}")
    return value


Name = Annotated[str, AfterValidator(_check_name), Field(examples=["support-bot"])]
"""A slug naming a project or an agent; used in URLs, so it is restricted."""

Description = Annotated[str, Field(max_length=2000)]

Email = Annotated[
    str,
    Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320, examples=["ada@example.com"]),
]
"""A login identity; only its shape is checked (no mail is sent)."""


NUL_RULE = "text may not contain the NUL character (U+0000)"
"""PostgreSQL cannot store it in text or JSON; refused everywhere, so both databases agree."""


def holds_nul(value: object) -> bool:
    """Whether a string, or any string inside nested lists and dicts (keys too), holds NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(v) for v in value)
    return False


def without_nul(value: Any) -> Any:
    """``value`` with NUL replaced by U+FFFD in every string (nested lists and dicts, keys too):
    for telemetry, which is kept rather than refused."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if not holds_nul(value):
        return value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return [without_nul(v) for v in value]


class Model(BaseModel):
    """Base of every API body: unknown fields are refused rather than silently ignored, and so
    is text holding NUL."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if holds_nul(data):
            raise ValueError(NUL_RULE)
        return data


class ResponseModel(BaseModel):
    """Base of response bodies: tolerant of fields added by newer servers."""

    model_config = ConfigDict(extra="ignore")


class Page(ResponseModel, Generic[T]):
    """One page of a list. Pass ``next_cursor`` back as ``cursor`` to get the next page."""

    data: list[T]
    next_cursor: str | None = None


class ErrorBody(ResponseModel):
    code: str = Field(examples=["not_found"])
    message: str
    details: dict[str, object] | None = None
    request_id: str | None = None


class ErrorResponse(ResponseModel):
    """The body of every error response."""

    error: ErrorBody
