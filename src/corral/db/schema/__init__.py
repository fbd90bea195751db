"""The database schema, one module per area. Migrations under ``migrations/`` build exactly
this (a test checks it). Import every table module here so ``Base.metadata`` is complete."""

from corral.db.schema.audit import AuditEventRow, AuditHeadRow
from corral.db.schema.base import Base
from corral.db.schema.memory import (
    MemoryActivityRow,
    MemoryBriefRow,
    MemoryItemRow,
    MemoryStatsRow,
    MemoryTermRow,
    MemoryVersionRow,
)
from corral.db.schema.tenancy import (
    AgentRow,
    ApiKeyProjectRow,
    ApiKeyRow,
    ProjectMemberRow,
    ProjectRow,
    UserRow,
    WorkspaceRow,
)

__all__ = [
    "AgentRow",
    "ApiKeyProjectRow",
    "ApiKeyRow",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "MemoryActivityRow",
    "MemoryBriefRow",
    "MemoryItemRow",
    "MemoryStatsRow",
    "MemoryTermRow",
    "MemoryVersionRow",
    "ProjectMemberRow",
    "ProjectRow",
    "UserRow",
    "WorkspaceRow",
]
