"""``corral providers``: upstream LLM providers for the gateway."""

from __future__ import annotations

import os

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option

COLUMNS = ["name", "kind", "base_url", "models", "priority", "has_api_key", "disabled"]


def _key(api_key_env: str | None) -> str | None:
    if api_key_env is None:
        return None
    value = os.environ.get(api_key_env)
    if not value:
        raise click.UsageError(f"the environment variable {api_key_env} is not set")
    return value


@click.group()
def providers() -> None:
    """Upstream providers (OpenAI- or Anthropic-compatible) and their keys, kept encrypted."""


@providers.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Providers, in routing order (keys are never shown)."""
    with state.client() as client:
        emit(
            client.providers.list(),
            as_json=as_json,
            columns=COLUMNS,
            empty="No providers: `corral providers add` adds one.",
        )


@providers.command()
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["openai", "anthropic"]),
    required=True,
    help="The API the provider speaks.",
)
@click.option("--base-url", required=True, help="e.g. https://api.openai.com/v1")
@click.option("--api-key-env", help="Read the provider's key from this environment variable.")
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Model name pattern it serves, e.g. 'gpt-*' (repeatable; default '*').",
)
@click.option("--priority", type=int, help="Lower is tried first (default 100).")
@click.option("--timeout", "timeout_seconds", type=float, help="Upstream timeout in seconds.")
@json_option
@pass_state
def add(
    state: CliState,
    name: str,
    kind: str,
    base_url: str,
    api_key_env: str | None,
    models: tuple[str, ...],
    priority: int | None,
    timeout_seconds: float | None,
    as_json: bool,
) -> None:
    """Add provider NAME. The key is read from an environment variable so it never appears in
    shell history; it is stored encrypted."""
    with state.client() as client:
        provider = client.providers.add(
            name,
            kind=kind,
            base_url=base_url,
            api_key=_key(api_key_env),
            models=list(models) or None,
            priority=priority,
            timeout_seconds=timeout_seconds,
        )
    emit(provider, as_json=as_json, columns=COLUMNS)


@providers.command()
@click.argument("name")
@click.option("--base-url", help="New base URL.")
@click.option("--api-key-env", help="Replace the key with this environment variable's value.")
@click.option("--clear-api-key", is_flag=True, help="Remove the stored key.")
@click.option("--model", "models", multiple=True, help="Replace the model patterns (repeatable).")
@click.option("--priority", type=int, help="New priority.")
@click.option("--timeout", "timeout_seconds", type=float, help="New upstream timeout.")
@click.option("--disable/--enable", "disabled", default=None, help="Stop or resume routing to it.")
@json_option
@pass_state
def update(
    state: CliState,
    name: str,
    base_url: str | None,
    api_key_env: str | None,
    clear_api_key: bool,
    models: tuple[str, ...],
    priority: int | None,
    timeout_seconds: float | None,
    disabled: bool | None,
    as_json: bool,
) -> None:
    """Change provider NAME."""
    changes = {
        "base_url": base_url,
        "api_key": _key(api_key_env),
        "clear_api_key": clear_api_key or None,
        "models": list(models) or None,
        "priority": priority,
        "timeout_seconds": timeout_seconds,
        "disabled": disabled,
    }
    with state.client() as client:
        provider = client.providers.update(
            name, **{k: v for k, v in changes.items() if v is not None}
        )
    emit(provider, as_json=as_json, columns=COLUMNS)


@providers.command()
@click.argument("name")
@pass_state
def remove(state: CliState, name: str) -> None:
    """Remove provider NAME."""
    with state.client() as client:
        client.providers.remove(name)
    console.print(f"Removed provider {name}.")
