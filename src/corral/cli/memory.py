"""``corral memory``: remember, recall, restore, forget, the brief, export and import."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from corral.cli.context import CliState, pass_state
from corral.cli.output import console, emit, json_option, print_json
from corral.schemas.memory import MemoryKind, MemorySource, RecallResult, TaskStatus

COLUMNS = ["id", "kind", "key", "content", "tags", "pinned", "status", "valid_from"]
KINDS = click.Choice([k.value for k in MemoryKind])
STATUSES = click.Choice([s.value for s in TaskStatus])


@click.group()
def memory() -> None:
    """Project memory: what a project remembers, searchable and restorable."""


@memory.command()
@click.argument("project")
@click.argument("content")
@click.option("--kind", type=KINDS, default="note", show_default=True, help="Kind of item.")
@click.option("--key", help="The subject; a new item with the same key supersedes the old one.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option(
    "--source", type=click.Choice([s.value for s in MemorySource]), help="Who produced it."
)
@click.option("--session", help="The session or conversation it comes from.")
@click.option("--pin", is_flag=True, help="Pin it (always in the context pack, ranked higher).")
@click.option("--importance", type=click.FloatRange(0, 1), help="0 to 1 (default 0.5).")
@click.option("--supersede", is_flag=True, help="Replace a contradicting decision or constraint.")
@json_option
@pass_state
def remember(
    state: CliState,
    project: str,
    content: str,
    kind: str,
    key: str | None,
    tags: tuple[str, ...],
    source: str | None,
    session: str | None,
    pin: bool,
    importance: float | None,
    supersede: bool,
    as_json: bool,
) -> None:
    """Remember CONTENT in PROJECT ('-' reads it from standard input)."""
    if content == "-":
        content = sys.stdin.read()
    with state.client() as client:
        result = client.memory.remember(
            project,
            content,
            kind=kind,
            key=key,
            tags=list(tags),
            source=source,
            session=session,
            pinned=pin,
            importance=importance,
            supersede=supersede,
        )
    if as_json:
        print_json(result)
        return
    note = {
        "created": "Remembered",
        "duplicate": "Already remembered (nothing stored)",
        "superseded": "Remembered, superseding " + ", ".join(f"#{i}" for i in result.superseded),
    }[result.outcome]
    console.print(f"{note}: #{result.item.id} {result.item.kind.value}")


@memory.command()
@click.argument("project")
@click.argument("query")
@click.option("--kind", "kinds", type=KINDS, multiple=True, help="Only this kind (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only items with this tag (repeatable).")
@click.option("--key", help="Only items with this key.")
@click.option("--all-versions", is_flag=True, help="Include superseded and expired items.")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@json_option
@pass_state
def recall(
    state: CliState,
    project: str,
    query: str,
    kinds: tuple[str, ...],
    tags: tuple[str, ...],
    key: str | None,
    all_versions: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Search PROJECT's memory for QUERY, best first, with scores."""
    with state.client() as client:
        result = client.memory.recall(
            project,
            query,
            kinds=list(kinds),
            tags=list(tags),
            key=key,
            validity="all" if all_versions else None,
            limit=limit,
        )
    _print_hits(result, as_json)


def _print_hits(result: RecallResult, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    if not result.hits:
        console.print("Nothing found.")
        return
    from rich.table import Table

    table = Table()
    for name in ("score", "id", "project", "kind", "content", "matched"):
        table.add_column(name)
    for hit in result.hits:
        table.add_row(
            f"{hit.score:.3f}",
            str(hit.item.id),
            hit.item.project,
            hit.item.kind.value,
            hit.item.content,
            ", ".join(hit.breakdown.matched_terms),
        )
    console.print(table)


@memory.command("recall-across")
@click.argument("query")
@click.option("--project", "projects", multiple=True, required=True, help="Repeatable.")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@json_option
@pass_state
def recall_across(
    state: CliState, query: str, projects: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """Search several projects at once (each --project must be readable; audited)."""
    with state.client() as client:
        result = client.memory.recall_across(list(projects), query, limit=limit)
    _print_hits(result, as_json)


@memory.command()
@click.argument("project")
@click.option("--task", help="What you are about to do: the most relevant items are added.")
@click.option("--budget", type=click.IntRange(64, 200_000), help="Token budget (default 2000).")
@json_option
@pass_state
def restore(
    state: CliState, project: str, task: str | None, budget: int | None, as_json: bool
) -> None:
    """Print PROJECT's context pack: brief, rules, decisions, open tasks, relevant items."""
    with state.client() as client:
        pack = client.memory.restore(project, task=task, budget=budget)
    if as_json:
        print_json(pack)
    else:
        click.echo(pack.markdown)


@memory.command("list")
@click.argument("project")
@click.option("--kind", "kinds", type=KINDS, multiple=True, help="Only this kind (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only items with this tag (repeatable).")
@click.option("--key", help="Only items with this key.")
@click.option("--status", "statuses", type=STATUSES, multiple=True, help="Task status.")
@click.option("--all-versions", is_flag=True, help="Include superseded and expired items.")
@json_option
@pass_state
def list_(
    state: CliState,
    project: str,
    kinds: tuple[str, ...],
    tags: tuple[str, ...],
    key: str | None,
    statuses: tuple[str, ...],
    all_versions: bool,
    as_json: bool,
) -> None:
    """Items of PROJECT, newest first."""
    with state.client() as client:
        found = client.memory.list(
            project,
            kinds=list(kinds),
            tags=list(tags),
            key=key,
            status=list(statuses),
            validity="all" if all_versions else None,
        )
    emit(found, as_json=as_json, columns=COLUMNS, empty="No items.")


@memory.command()
@click.argument("project")
@click.argument("item_id", type=int)
@json_option
@pass_state
def show(state: CliState, project: str, item_id: int, as_json: bool) -> None:
    """One item with its version history."""
    with state.client() as client:
        item = client.memory.get(project, item_id)
        versions = client.memory.history(project, item_id)
    if as_json:
        history = [v.model_dump(mode="json") for v in versions]
        print_json({"item": item.model_dump(mode="json"), "history": history})
        return
    emit(item, as_json=False, columns=[*COLUMNS, "valid_to", "superseded_by", "author", "version"])
    emit(versions, as_json=False, columns=["version", "changed_at", "actor", "change"])


@memory.command()
@click.argument("project")
@click.argument("item_id", type=int)
@click.option("--content", help="New content.")
@click.option("--tag", "tags", multiple=True, help="Replace the tags (repeatable).")
@click.option("--pin/--unpin", "pinned", default=None, help="Pin or unpin.")
@click.option("--importance", type=click.FloatRange(0, 1), help="0 to 1.")
@click.option("--status", type=STATUSES, help="Task status.")
@json_option
@pass_state
def update(
    state: CliState,
    project: str,
    item_id: int,
    content: str | None,
    tags: tuple[str, ...],
    pinned: bool | None,
    importance: float | None,
    status: str | None,
    as_json: bool,
) -> None:
    """Change an item; the previous state stays in its history."""
    with state.client() as client:
        item = client.memory.update(
            project,
            item_id,
            content=content,
            tags=list(tags) if tags else None,
            pinned=pinned,
            importance=importance,
            status=status,
        )
    emit(item, as_json=as_json, columns=COLUMNS)


@memory.command()
@click.argument("project")
@click.argument("item_id", type=int)
@json_option
@pass_state
def done(state: CliState, project: str, item_id: int, as_json: bool) -> None:
    """Mark task ITEM_ID done."""
    with state.client() as client:
        item = client.memory.complete(project, item_id)
    emit(item, as_json=as_json, columns=COLUMNS)


@memory.command()
@click.argument("project")
@click.argument("item_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_state
def forget(state: CliState, project: str, item_id: int, yes: bool, as_json: bool) -> None:
    """Delete item ITEM_ID for good, with its history (audited)."""
    if not yes:
        click.confirm(f"Forget item {item_id} of {project} for good?", abort=True)
    with state.client() as client:
        client.memory.forget(project, item_id)
    if as_json:
        print_json({"forgotten": item_id, "project": project})
    else:
        console.print(f"Forgot item {item_id}.")


@memory.command()
@click.argument("project")
@click.option("--goal", help="Set the Goal section.")
@click.option("--directory", help="Set the Directory section.")
@click.option("--notes", help="Set the Notes section.")
@json_option
@pass_state
def brief(
    state: CliState,
    project: str,
    goal: str | None,
    directory: str | None,
    notes: str | None,
    as_json: bool,
) -> None:
    """Print PROJECT's brief, or edit its Goal, Directory or Notes."""
    with state.client() as client:
        if goal is None and directory is None and notes is None:
            result = client.memory.brief(project)
        else:
            result = client.memory.update_brief(
                project, goal=goal, directory=directory, notes=notes
            )
    if as_json:
        print_json(result)
    else:
        click.echo(result.markdown)


@memory.command()
@click.argument("project")
@click.option(
    "--format",
    "form",
    type=click.Choice(["jsonl", "markdown"]),
    default="jsonl",
    show_default=True,
    help="jsonl round-trips through import; markdown is for people.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file.")
@json_option
@pass_state
def export(state: CliState, project: str, form: str, output: str | None, as_json: bool) -> None:
    """Export PROJECT's memory (audited)."""
    with state.client() as client:
        document = client.memory.export(project, format=form)
    if as_json:
        print_json({"project": project, "format": form, "document": document})
    elif output:
        Path(output).write_text(document)
        console.print(f"Wrote {output}.")
    else:
        click.echo(document, nl=False)


@memory.command("import")
@click.argument("project")
@click.argument("file", type=click.File("r"))
@json_option
@pass_state
def import_(state: CliState, project: str, file: TextIO, as_json: bool) -> None:
    """Import a JSONL export FILE ('-' for standard input) into PROJECT: all or nothing."""
    document = file.read()
    with state.client() as client:
        result = client.memory.import_jsonl(project, document)
    if as_json:
        print_json(result)
    else:
        console.print(f"Imported {result.imported} items ({result.duplicates} duplicates skipped).")
