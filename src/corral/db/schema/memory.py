"""Project memory: items, their versions, the brief, search statistics and caller activity.

The full-text index itself is dialect-specific (an FTS5 table on SQLite, a ``tsvector`` column
with a GIN index on PostgreSQL); it is built by the migration and described in
``corral.db.memory_search``, not here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from corral.db.schema.base import Base
from corral.db.types import BigIntPK, JsonValue, UtcDateTime


class MemoryItemRow(Base):
    """One remembered item. ``search_text`` holds the analysed terms, each prefixed with the
    project (``p<id>x<term>``), so that the full-text index is partitioned by project: a lookup
    never walks another project's postings."""

    __tablename__ = "memory_items"
    __table_args__ = (
        Index(None, "project_id", "content_hash"),
        Index(None, "project_id", "key", "valid_to"),
        Index(None, "project_id", "kind", "id"),
        Index(None, "project_id", "session", "id"),
        # Lookups by id always carry the project: with this index they stay point lookups.
        Index(None, "project_id", "id"),
        # Listing pinned (or unpinned) items newest first reads only those.
        Index(None, "project_id", "pinned", "id"),
        # Listing superseded and expired items newest first reads only items with an end,
        # however few there are among the current ones.
        Index(
            "ix_memory_items_project_id_id_ended",
            "project_id",
            "id",
            sqlite_where=text("valid_to IS NOT NULL"),
            postgresql_where=text("valid_to IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JsonValue)
    source: Mapped[str] = mapped_column(String(16))
    session: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(320))
    pinned: Mapped[bool] = mapped_column(Boolean)
    importance: Mapped[float] = mapped_column(Float)
    status: Mapped[str | None] = mapped_column(String(16))
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime)
    superseded_by: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    search_text: Mapped[str] = mapped_column(Text)
    context_text: Mapped[str] = mapped_column(Text)
    term_count: Mapped[int] = mapped_column(Integer)


class MemoryVersionRow(Base):
    """A snapshot of an item after each change; removed with the item when it is forgotten."""

    __tablename__ = "memory_item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"), Index(None, "project_id"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("memory_items.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    change: Mapped[str] = mapped_column(String(32))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JsonValue)


class MemoryBriefRow(Base):
    """The human-written sections of a project's brief (the rest is generated on read)."""

    __tablename__ = "memory_briefs"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    goal: Mapped[str] = mapped_column(Text)
    directory: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(320))


class MemoryTermRow(Base):
    """Document frequency of one analysed term in one project (for BM25's idf)."""

    __tablename__ = "memory_terms"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    df: Mapped[int] = mapped_column(Integer)


class MemoryStatsRow(Base):
    """Indexed items and their total length per project (for BM25's length normalisation)."""

    __tablename__ = "memory_stats"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    doc_count: Mapped[int] = mapped_column(BigInteger)
    total_terms: Mapped[int] = mapped_column(BigInteger)


class MemoryActivityRow(Base):
    """When a principal last used a project's memory: what "open most recent" is ordered by."""

    __tablename__ = "memory_activity"
    __table_args__ = (Index(None, "principal_kind", "principal_id", "last_active_at"),)

    principal_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    principal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_active_at: Mapped[datetime] = mapped_column(UtcDateTime)
