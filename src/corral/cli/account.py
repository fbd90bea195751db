"""``corral login``, ``logout`` and ``status``."""

from __future__ import annotations

import click

from corral.cli import config
from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json


@click.command()
@click.option("--url", help="Server URL (default: CORRAL_URL, then http://127.0.0.1:8600).")
@click.option("--api-key", help="API key; asked for when not given.")
@pass_state
def login(state: CliState, url: str | None, api_key: str | None) -> None:
    """Check a server URL and API key, then save them for later commands (file mode 0600)."""
    url = url or state.url
    key = api_key or state.api_key or click.prompt("API key", hide_input=True)
    checked = CliState(url=url, api_key=key)
    with checked.client() as client:
        status = client.status()
        saved_url = client.url
    path = config.save(saved_url, key)
    console.print(
        f"Logged in to {saved_url} as {status.principal.kind} {status.principal.name} "
        f"(saved in {path})."
    )


@click.command()
def logout() -> None:
    """Forget the saved server URL and API key."""
    console.print("Logged out." if config.forget() else "Not logged in.")


@click.command()
@json_option
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """Show the server, its database, and who the key belongs to."""
    with state.client() as client:
        result = client.status()
        url = client.url
    if as_json:
        print_json(result)
        return
    emit(
        result,
        as_json=False,
        columns=["version", "workspace", "database", "schema_revision"],
        title=f"Corral at {url}",
    )
    who = result.principal
    emit(
        who,
        as_json=False,
        columns=["kind", "name", "workspace_admin", "key_id", "roles"],
        title="You are",
    )
