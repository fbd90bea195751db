"""Request and response bodies of the REST API.

These pydantic models are the single description of what crosses the wire: the server validates
requests and renders responses with them (and the committed OpenAPI schema is generated from
them), and the SDK parses responses into them. They import nothing from the server stack.
"""
