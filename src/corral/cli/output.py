"""Tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(getattr(value, "value", value))


def emit(
    value: BaseModel | Sequence[BaseModel],
    *,
    as_json: bool,
    columns: Sequence[str],
    title: str | None = None,
    empty: str = "Nothing to show.",
) -> None:
    """Print one model (as a two-column table) or a list of models (one row each)."""
    if as_json:
        print_json(value)
        return
    if isinstance(value, BaseModel):
        table = Table(show_header=False, title=title, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for name in columns:
            table.add_row(name, _cell(getattr(value, name)))
        console.print(table)
        return
    if not value:
        console.print(empty)
        return
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name)
    for row in value:
        table.add_row(*(_cell(getattr(row, name)) for name in columns))
    console.print(table)
