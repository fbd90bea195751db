"""The database schema, one module per area. Migrations under ``migrations/`` build exactly
this (a test checks it). Import every table module here so ``Base.metadata`` is complete."""

from corral.db.schema.alerts import (
    AlertNotificationRow,
    AlertRow,
    AlertRuleRow,
    WebhookDeliveryRow,
)
from corral.db.schema.audit import AuditCheckpointRow, AuditEventRow, AuditHeadRow
from corral.db.schema.base import Base
from corral.db.schema.cost import (
    BudgetAlertRow,
    BudgetCounterRow,
    BudgetReservationRow,
    BudgetRow,
    CostDailyRow,
    PriceOverrideRow,
    ProviderRow,
)
from corral.db.schema.detection import DetectorSettingsRow, FindingRow, SessionHaltRow
from corral.db.schema.identity import (
    LoginAttemptRow,
    ToolPolicyRow,
    UserInviteRow,
    UserSessionRow,
)
from corral.db.schema.lifecycle import (
    AgentVersionRow,
    DeploymentRow,
    RolloutRow,
    SessionAssignmentRow,
)
from corral.db.schema.memory import (
    MemoryActivityRow,
    MemoryBriefRow,
    MemoryItemRow,
    MemoryStatsRow,
    MemoryTermRow,
    MemoryVersionRow,
)
from corral.db.schema.observability import AgentActivityRow, SessionRow, SpanRow, TraceRow
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
    "AgentActivityRow",
    "AgentRow",
    "AgentVersionRow",
    "AlertNotificationRow",
    "AlertRow",
    "AlertRuleRow",
    "ApiKeyProjectRow",
    "ApiKeyRow",
    "AuditCheckpointRow",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "BudgetAlertRow",
    "BudgetCounterRow",
    "BudgetReservationRow",
    "BudgetRow",
    "CostDailyRow",
    "DeploymentRow",
    "DetectorSettingsRow",
    "FindingRow",
    "LoginAttemptRow",
    "MemoryActivityRow",
    "MemoryBriefRow",
    "MemoryItemRow",
    "MemoryStatsRow",
    "MemoryTermRow",
    "MemoryVersionRow",
    "PriceOverrideRow",
    "ProjectMemberRow",
    "ProjectRow",
    "ProviderRow",
    "RolloutRow",
    "SessionAssignmentRow",
    "SessionHaltRow",
    "SessionRow",
    "SpanRow",
    "ToolPolicyRow",
    "TraceRow",
    "UserInviteRow",
    "UserRow",
    "UserSessionRow",
    "WebhookDeliveryRow",
    "WorkspaceRow",
]
