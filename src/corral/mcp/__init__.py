"""The MCP server of Corral memory: one set of tools, two ways to reach the service layer.

``/mcp`` (streamable HTTP, inside ``corral serve``) calls the core services as the principal
authenticated from each request's API key; ``corral mcp`` (stdio, a local process) calls a Corral
server through the SDK with the CLI's saved URL and key. Both serve the tools of
:mod:`corral.mcp.tools` over a :class:`~corral.mcp.backend.MemoryBackend`.
"""
