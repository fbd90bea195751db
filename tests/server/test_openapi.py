from __future__ import annotations

from pathlib import Path

from corral.cli.openapi import openapi_document

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_committed_openapi_schema_is_current() -> None:
    assert COMMITTED.read_text() == openapi_document(), (
        "docs/openapi.json is stale: run `corral openapi -o docs/openapi.json` and commit it"
    )
