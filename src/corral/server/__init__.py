"""The HTTP server: app factory, REST routers, and (later) gateway, MCP and console."""
