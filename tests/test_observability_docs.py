"""docs/observability.md names every attribute the normalization reads."""

from __future__ import annotations

from pathlib import Path

from corral.core.normalize import CANONICAL_TABLE

DOC = Path(__file__).parents[1] / "docs" / "observability.md"


def test_the_normalization_table_is_documented() -> None:
    text = DOC.read_text()
    for field, names in CANONICAL_TABLE.items():
        assert f"| `{field}`" in text, f"{field} has no row in docs/observability.md"
        for name in names:
            attribute = name.split(" ")[0]
            assert f"`{attribute}`" in text, f"{attribute} ({field}) is not in the table"
