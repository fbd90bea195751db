"""The tools the fleet may ask for, and a stand-in workspace that runs them.

The workspace answers like the real thing would (documents, web pages, files, a test run)
without touching the network or the disk, so the team can be run anywhere. Replace
:class:`Workspace` with your own tools; the shapes of :data:`TOOL_SPECS` are OpenAI's.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse


def _spec(name: str, description: str, **properties: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {key: {"type": kind} for key, kind in properties.items()},
                "required": list(properties),
            },
        },
    }


TOOL_SPECS: dict[str, dict[str, Any]] = {
    "search_docs": _spec("search_docs", "Search the project's documentation.", query="string"),
    "fetch_url": _spec("fetch_url", "Fetch a web page (allowed domains only).", url="string"),
    "read_file": _spec("read_file", "Read a file of the repository.", path="string"),
    "edit_file": _spec("edit_file", "Apply a patch to a file.", path="string", patch="string"),
    "run_tests": _spec("run_tests", "Run a test suite: unit or integration.", suite="string"),
    "remember": _spec(
        "remember",
        "Record a decision, constraint, fact or task in the project's memory.",
        kind="string",
        key="string",
        content="string",
    ),
}


LOG_LINES = 300
"""Lines of a log file: long enough that reading a few fills a context window quickly."""


class Workspace:
    """A repository, its docs and the web, simulated. Deterministic: the same call gives the
    same answer."""

    def __init__(self) -> None:
        self.patches: dict[str, int] = {}

    def run(self, name: str, args: dict[str, Any]) -> str:
        handler = getattr(self, f"_{name}", None)
        if handler is None:
            return f"Unknown tool {name!r}."
        try:
            return str(handler(**args))
        except TypeError as exc:
            return f"Bad arguments for {name}: {exc}"

    def _search_docs(self, query: str) -> str:
        return (
            f"Found 3 documents for {query!r}: docs/architecture.md (services and queues), "
            "docs/api.md (pagination uses cursors), docs/runbook.md (retries back off)."
        )

    def _fetch_url(self, url: str) -> str:
        host = urlparse(url).hostname or ""
        if host.startswith("status."):
            # The status service is down: what a real fetch returns on a bad day.
            return json.dumps({"error": "503 Service Unavailable", "url": url})
        return f"Fetched {url}: the page documents cursor pagination and rate limits of 10 rps."

    def _read_file(self, path: str) -> str:
        if path.startswith("logs/"):
            return "\n".join(
                f"2026-11-24T02:{i // 60:02d}:{i % 60:02d}Z backfill worker-{i % 4} batch={i} "
                f"rows=5000 retry={i % 5}/5 status={'timeout' if i % 7 == 0 else 'ok'} "
                f"elapsed_ms={120 + i * 3} upstream=events-db-replica-{i % 3}"
                for i in range(LOG_LINES)
            )
        return f"# {path}\ndef handler(event):\n    return process(event)\n"

    def _edit_file(self, path: str, patch: str) -> str:
        self.patches[path] = self.patches.get(path, 0) + 1
        return f"Patched {path} ({len(patch)} characters changed)."

    def _run_tests(self, suite: str) -> str:
        if suite == "integration":
            return "FAILED: 3 of 40 integration tests (test_backfill, test_replay, test_retry)."
        return "40 passed in 2.1s."
