"""Project memory: items, recall, the brief and the context pack."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from corral.schemas.common import Model, ResponseModel
from corral.schemas.tenancy import Project


class MemoryKind(StrEnum):
    DECISION = "decision"
    CONSTRAINT = "constraint"
    FACT = "fact"
    PREFERENCE = "preference"
    TASK = "task"
    NOTE = "note"


class MemorySource(StrEnum):
    """Who produced an item: an agent on its own, a session transcript, or a person."""

    AGENT = "agent"
    SESSION = "session"
    USER = "user"


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class Validity(StrEnum):
    """Which versions a query sees: ``current`` (valid now), ``superseded`` (no longer valid:
    replaced by a newer item or past its ``valid_to``), or ``all`` (history included)."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    ALL = "all"


Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s,]+$")]
Key = Annotated[str, Field(min_length=1, max_length=200)]
Importance = Annotated[float, Field(ge=0.0, le=1.0)]


class MemoryItemCreate(Model):
    """One thing to remember. ``content`` size is limited by ``CORRAL_MEMORY_MAX_ITEM_BYTES``."""

    content: str = Field(min_length=1, examples=["Deploys happen on Tuesdays only."])
    kind: MemoryKind = MemoryKind.NOTE
    key: Key | None = Field(
        default=None,
        description="The subject. A new item with the key of an active one supersedes it.",
        examples=["deploy-day"],
    )
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    source: MemorySource = MemorySource.AGENT
    session: str | None = Field(
        default=None,
        max_length=200,
        description="The session or conversation the item comes from; consecutive items of "
        "one session lend each other context in recall.",
    )
    pinned: bool = False
    importance: Importance = 0.5
    status: TaskStatus | None = Field(
        default=None, description="Tasks only; a new task is open unless told otherwise."
    )
    valid_from: datetime | None = Field(default=None, description="Defaults to now.")
    valid_to: datetime | None = None


class RememberRequest(MemoryItemCreate):
    supersede: bool = Field(
        default=False,
        description="Replace an active decision or constraint with the same key even when the "
        "content differs; without it that is a 409 conflict.",
    )


class RememberManyRequest(Model):
    items: list[MemoryItemCreate] = Field(min_length=1, max_length=5000)
    supersede: bool = False


class MemoryItemUpdate(Model):
    """A change to an item; each change is a new version in its history."""

    content: str | None = Field(default=None, min_length=1)
    tags: list[Tag] | None = Field(default=None, max_length=32)
    pinned: bool | None = None
    importance: Importance | None = None
    status: TaskStatus | None = None
    valid_to: datetime | None = None


class MemoryItem(ResponseModel):
    id: int
    project: str
    kind: MemoryKind
    key: str | None
    content: str
    tags: list[str]
    source: MemorySource
    session: str | None
    author: str = Field(description="The principal that wrote the item.")
    pinned: bool
    importance: float
    status: TaskStatus | None
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: int | None
    version: int
    created_at: datetime
    updated_at: datetime


Outcome = Literal["created", "duplicate", "superseded"]


class RememberResult(ResponseModel):
    """What a write did: ``created`` a new item, found a ``duplicate`` (the existing item is
    returned, nothing stored), or ``superseded`` older items with the same key."""

    outcome: Outcome
    item: MemoryItem
    superseded: list[int] = Field(default_factory=list)


class RememberManyResult(ResponseModel):
    results: list[RememberResult]
    created: int
    duplicates: int


class SupersedeRequest(Model):
    content: str = Field(
        min_length=1,
        description="The new content; the new item keeps the old one's kind, key, tags, "
        "pin, importance and status.",
    )


class ItemVersion(ResponseModel):
    version: int
    changed_at: datetime
    actor: str
    change: str
    snapshot: dict[str, object]


class ScoreBreakdown(ResponseModel):
    """How a recall score was made: ``relevance`` (BM25, fused with ``dense`` when the dense
    stage runs) times the recency, pinned and importance factors."""

    bm25: float
    dense: float | None = None
    relevance: float
    recency: float
    recency_factor: float
    pinned_factor: float
    importance_factor: float
    matched_terms: list[str]


class RecallHit(ResponseModel):
    item: MemoryItem
    score: float
    breakdown: ScoreBreakdown


class RecallResult(ResponseModel):
    query: str
    projects: list[str]
    hits: list[RecallHit]


class Brief(ResponseModel):
    """The project brief. Goal, Directory and Notes are written by people; Rules, Decisions and
    Open tasks are generated from the active items every time the brief is read."""

    project: str
    goal: str
    rules: list[MemoryItem]
    decisions: list[MemoryItem]
    open_tasks: list[MemoryItem]
    directory: str
    notes: str
    updated_at: datetime | None
    updated_by: str | None
    markdown: str


class BriefUpdate(Model):
    goal: str | None = Field(default=None, max_length=20000)
    directory: str | None = Field(default=None, max_length=20000)
    notes: str | None = Field(default=None, max_length=20000)


class MemoryProjectSummary(ResponseModel):
    """A project in the list of memories: the project, and how many items it stores."""

    project: Project
    items: int = Field(description="Items stored, superseded versions included.")


class ContextPack(ResponseModel):
    """Everything an agent needs to resume a project, within a token budget."""

    project: str
    budget: int
    tokens: int = Field(description="Tokens of ``markdown`` (cl100k_base, counted offline).")
    markdown: str
    goal: str
    rules: list[MemoryItem]
    decisions: list[MemoryItem]
    open_tasks: list[MemoryItem]
    relevant: list[RecallHit]
    directory: str
    notes: str
    omitted: dict[str, int] = Field(
        description="Per section, how many entries did not fit in the budget."
    )


class OpenRequest(Model):
    project: str | None = Field(
        default=None,
        max_length=200,
        description="A project name, or part of one; omit it with recent=true.",
    )
    recent: bool = Field(
        default=False, description="Open the project the caller worked in most recently."
    )
    task: str | None = Field(default=None, max_length=4000)
    budget: int | None = Field(default=None, ge=64, le=200_000)


class ImportProblem(ResponseModel):
    line: int
    problem: str


class ImportResult(ResponseModel):
    imported: int
    duplicates: int
    problems: list[ImportProblem] = Field(default_factory=list)


class ExportedVersion(Model):
    version: int = Field(ge=1)
    changed_at: datetime
    actor: str = Field(max_length=320)
    change: str = Field(max_length=32)
    snapshot: dict[str, object]


class ExportedItem(Model):
    """One line of a JSONL export: an item with its full history. ``id`` and ``superseded_by``
    refer to ids inside the file; import gives the items new ids and keeps the links."""

    type: Literal["item"] = "item"
    id: int
    kind: MemoryKind
    key: Key | None = None
    content: str = Field(min_length=1)
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    source: MemorySource = MemorySource.AGENT
    session: str | None = Field(default=None, max_length=200)
    author: str = Field(default="import", max_length=320)
    pinned: bool = False
    importance: Importance = 0.5
    status: TaskStatus | None = None
    valid_from: datetime
    valid_to: datetime | None = None
    superseded_by: int | None = None
    version: int = Field(default=1, ge=1)
    created_at: datetime
    updated_at: datetime
    history: list[ExportedVersion] = Field(default_factory=list)


class ExportedBrief(Model):
    """The line of a JSONL export that carries the brief's human-written sections."""

    type: Literal["brief"] = "brief"
    goal: str = Field(default="", max_length=20000)
    directory: str = Field(default="", max_length=20000)
    notes: str = Field(default="", max_length=20000)
