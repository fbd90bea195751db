"""The OpenClaw skill only names ``corral`` commands and options that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from corral.cli.main import cli

SKILL = Path(__file__).parents[2] / "integrations" / "openclaw" / "corral-memory" / "SKILL.md"


def front_matter(text: str) -> dict[str, str]:
    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert match, "SKILL.md must start with front matter"
    fields = {}
    for line in match.group(1).splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def named_commands(text: str) -> list[list[str]]:
    """Every `corral …` command line in code blocks and inline code."""
    found = []
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()]
    lines += re.findall(r"`(corral [^`]+)`", text)
    for line in lines:
        line = line.split("#")[0].strip()
        if line.startswith("corral "):
            found.append(shlex.split(line))
    return found


def check(words: list[str]) -> None:
    command: click.Command = cli
    path = ["corral"]
    rest = words[1:]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    assert not isinstance(command, click.Group), f"{' '.join(words)}: no such command"
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    options |= {opt for param in command.params for opt in getattr(param, "secondary_opts", [])}
    for word in rest:
        if word.startswith("--"):
            assert word in options, f"{' '.join(path)} has no option {word}"


def test_front_matter_names_the_skill() -> None:
    fields = front_matter(SKILL.read_text())
    assert fields["name"] == "corral-memory"
    assert len(fields["description"]) > 40


def test_every_command_the_skill_names_exists() -> None:
    commands = named_commands(SKILL.read_text())
    assert len(commands) >= 10
    for words in commands:
        check(words)


def test_the_check_catches_a_wrong_command() -> None:
    for wrong in (["corral", "memory", "remembr", "x"], ["corral", "open", "--latest"]):
        try:
            check(wrong)
        except AssertionError:
            continue
        raise AssertionError(f"{wrong} was accepted")
