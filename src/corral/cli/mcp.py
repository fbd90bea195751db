"""``corral mcp``: the memory tools over stdio, for MCP clients that start a local process."""

from __future__ import annotations

import click

from corral.cli.config import resolve
from corral.cli.context import CliState, pass_state


@click.command()
@pass_state
def mcp(state: CliState) -> None:
    """Serve Corral memory to an MCP client over standard input and output.

    The tools reach the Corral server of `corral login` (or --url / --api-key, CORRAL_URL /
    CORRAL_API_KEY) through the SDK, as the key's owner, so they work against a remote server.
    """
    import anyio

    from corral.mcp.backend import SdkBackend
    from corral.mcp.tools import build_server

    connection = resolve(state.url, state.api_key)
    if not connection.api_key:
        raise click.ClickException(
            "no API key: run `corral login`, or set CORRAL_API_KEY, or pass --api-key."
        )
    backend = SdkBackend(connection.url, connection.api_key)

    async def backend_for(_ctx: object) -> SdkBackend:
        return backend

    server = build_server(backend_for)

    async def serve() -> None:
        try:
            await server.run_stdio_async()
        finally:
            await backend.aclose()

    anyio.run(serve)
