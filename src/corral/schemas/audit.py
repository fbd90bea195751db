"""The audit trail as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from corral.schemas.common import ResponseModel


class AuditEvent(ResponseModel):
    seq: int
    occurred_at: datetime
    actor_kind: Literal["user", "agent", "system"]
    actor_id: int | None
    actor_name: str
    key_id: str | None
    action: str = Field(examples=["api_key.create"])
    target_kind: str
    target_id: str | None
    project: str | None
    outcome: Literal["success", "denied", "failure"]
    policy_version: str | None
    request_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditCheckpoint(ResponseModel):
    seq: int
    hash: str
    signed_at: datetime
    public_key: str = Field(description="Ed25519 public key, hex.")
    signature: str = Field(description="Ed25519 signature of 'corral-audit:<seq>:<hash>', hex.")
    valid: bool | None = None


class AuditVerification(ResponseModel):
    ok: bool
    checked: int = Field(description="Events whose hash and link were recomputed.")
    head_seq: int
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints_checked: int = 0
