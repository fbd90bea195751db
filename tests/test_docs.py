"""The documentation covers every setting and every CLI command and option."""

from __future__ import annotations

import re
from pathlib import Path

import click

from corral.cli.main import cli
from corral.settings import Settings

DOCS = Path(__file__).parents[1] / "docs"


def commands(group: click.Group, prefix: str = "corral") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += commands(command, path)
    return found


def sections(markdown: str) -> dict[str, str]:
    """Text under each ``### `corral …` `` heading."""
    parts = re.split(r"^### `(corral[^`]*)`\s*$", markdown, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text()
    for name in Settings.model_fields:
        variable = f"CORRAL_{name.upper()}"
        assert f"`{variable}`" in text, f"{variable} is not in docs/settings.md"


def test_every_cli_command_and_option_is_documented() -> None:
    documented = sections((DOCS / "cli.md").read_text())
    assert len(commands(cli)) >= 20
    for path, command in commands(cli):
        assert path in documented, f"`{path}` has no section in docs/cli.md"
        for param in command.params:
            if isinstance(param, click.Option):
                flag = max(param.opts, key=len)
                assert flag in documented[path], f"{flag} of `{path}` is not in docs/cli.md"
            elif isinstance(param, click.Argument):
                shown = (param.metavar or param.name or "").upper()
                assert shown in documented[path], (
                    f"argument {shown} of `{path}` is not in docs/cli.md"
                )


def test_readme_states_the_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    assert "pip install . && corral serve" in readme
    assert "./scripts/test" in readme
    assert "./scripts/test" in (DOCS.parent / ".ci" / "run").read_text()
