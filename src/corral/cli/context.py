"""Shared CLI state: the connection options and the SDK client built from them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import httpx2

from corral.cli.config import resolve
from corral.errors import CorralError
from corral.sdk.client import Client

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    url: str | None = None
    api_key: str | None = None

    @contextmanager
    def client(self) -> Iterator[Client]:
        """An SDK client; API errors become a one-line message and exit status 1."""
        connection = resolve(self.url, self.api_key)
        if not connection.api_key:
            raise click.ClickException(
                "no API key: run `corral login`, or set CORRAL_API_KEY, or pass --api-key."
            )
        try:
            with Client(url=connection.url, api_key=connection.api_key) as client:
                yield client
        except CorralError as exc:
            raise click.ClickException(f"{exc.message} [{exc.code}]") from exc
        except (OSError, httpx2.TransportError) as exc:
            raise click.ClickException(
                f"cannot reach the Corral server at {connection.url}: {exc}"
            ) from exc


pass_state = click.make_pass_decorator(CliState, ensure=True)
