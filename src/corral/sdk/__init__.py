"""The Python SDK. Imports only httpx2, pydantic and Corral's own shared modules."""
