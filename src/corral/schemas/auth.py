"""Console logins, invitations and passwords."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from corral.schemas.common import Email, Model, ResponseModel
from corral.schemas.tenancy import User


class LoginRequest(Model):
    email: Email
    password: str = Field(min_length=1, max_length=1024)


class SessionInfo(ResponseModel):
    """The logged-in user. Send ``csrf_token`` as ``X-CSRF-Token`` with every state-changing
    request made with the session cookie."""

    user: User
    csrf_token: str
    expires_at: datetime


class InviteCreate(Model):
    valid_hours: float = Field(default=72, gt=0, le=24 * 30)


class InviteCreated(ResponseModel):
    token: str = Field(description="Give this to the user; it is shown only here.")
    accept_path: str = Field(description="Console page where the user sets a password.")
    expires_at: datetime


class InviteAccept(Model):
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(Model):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)
