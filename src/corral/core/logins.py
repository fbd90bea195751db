"""People signing in to the console: passwords, login sessions, invitations, rate limiting.

A login session is a random token. The database keeps only its hash; the browser keeps the token
and an HMAC signature of it in an HttpOnly cookie. Each session has its own CSRF token, which
state-changing requests made with the cookie must echo in a header or form field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize
from corral.core.audit import record_audit
from corral.core.passwords import check_new_password, hash_password, verify_password
from corral.core.principals import load_principal
from corral.core.runtime import Runtime
from corral.core.secrets import derive_key
from corral.core.users import describe_user
from corral.db.schema import LoginAttemptRow, UserInviteRow, UserRow, UserSessionRow
from corral.errors import InvalidRequest, NotFound, RateLimited, Unauthenticated
from corral.schemas.access import Permission
from corral.schemas.auth import InviteCreated, SessionInfo

SESSION_COOKIE = "corral_session"
CSRF_HEADER = "x-csrf-token"
INVITE_PATH = "/console/invite"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cookie_key(rt: Runtime) -> bytes:
    return derive_key(rt.master_secret, "session-cookie")


def sign_session(rt: Runtime, token: str) -> str:
    signature = hmac.new(_cookie_key(rt), token.encode(), hashlib.sha256).hexdigest()
    return f"{token}.{signature}"


def unsign_session(rt: Runtime, cookie: str) -> str | None:
    token, _, signature = cookie.rpartition(".")
    if not token:
        return None
    expected = hmac.new(_cookie_key(rt), token.encode(), hashlib.sha256).hexdigest()
    return token if hmac.compare_digest(expected, signature) else None


@dataclass(frozen=True)
class LoginSession:
    cookie: str
    info: SessionInfo


def login(rt: Runtime, email: str, password: str, *, address: str) -> LoginSession:
    """Check a password and open a session, refusing early when attempts pile up."""
    now = rt.clock.now()
    email = email.lower()
    _check_rate(rt, email, address, now)
    with rt.db.read() as uow:
        user = uow.scalars(select(UserRow).where(UserRow.email == email)).one_or_none()
    valid = verify_password(user.password_hash if user else None, password)
    ok = valid and user is not None and not user.disabled
    with rt.db.write() as uow:
        uow.add(LoginAttemptRow(email=email, address=address, attempted_at=now, succeeded=ok))
        actor = (
            Principal(kind="user", id=user.id, name=user.email)
            if user
            else Principal(kind="user", id=0, name=email)
        )
        record_audit(
            uow,
            actor=actor,
            action="user.login",
            target_kind="user",
            target_id=email,
            outcome="success" if ok else "denied",
            details={"address": address},
            now=now,
        )
        opened = _open_session(uow, rt, user, now) if ok and user is not None else None
    if opened is None:
        # Raised after the commit, so the failed attempt counts towards the limit. One message
        # for every failure: it must not tell which accounts exist.
        raise Unauthenticated(
            "wrong email or password (or the account is disabled).", code="login_failed"
        )
    token, info = opened
    return LoginSession(cookie=sign_session(rt, token), info=info)


def _open_session(
    uow: Session, rt: Runtime, user: UserRow, now: datetime
) -> tuple[str, SessionInfo]:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = now + timedelta(hours=rt.settings.session_hours)
    uow.add(
        UserSessionRow(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
        )
    )
    return token, SessionInfo(user=describe_user(user), csrf_token=csrf, expires_at=expires)


def _check_rate(rt: Runtime, email: str, address: str, now: datetime) -> None:
    window = timedelta(minutes=rt.settings.login_window_minutes)
    limit = rt.settings.login_max_failures
    since = now - window
    with rt.db.read() as uow:
        failures = select(func.count()).where(
            LoginAttemptRow.succeeded.is_(False), LoginAttemptRow.attempted_at > since
        )
        by_email = uow.scalar(failures.where(LoginAttemptRow.email == email)) or 0
        by_address = uow.scalar(failures.where(LoginAttemptRow.address == address)) or 0
    if by_email >= limit or by_address >= 4 * limit:
        raise RateLimited(
            f"too many failed logins; try again in {int(window.total_seconds() // 60)} minutes.",
            code="too_many_login_attempts",
            details={"retry_after_seconds": int(window.total_seconds())},
        )


def session_principal(rt: Runtime, cookie: str) -> tuple[Principal, SessionInfo]:
    """The user behind a session cookie, with the session's CSRF token."""
    token = unsign_session(rt, cookie)
    if token is None:
        raise Unauthenticated("the session cookie is not valid; log in again.", code="bad_session")
    now = rt.clock.now()
    with rt.db.read() as uow:
        row = uow.scalars(
            select(UserSessionRow).where(UserSessionRow.token_hash == _digest(token))
        ).one_or_none()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise Unauthenticated("the session has ended; log in again.", code="session_expired")
        user = uow.get_one(UserRow, row.user_id)
        principal = load_principal(uow, user=user)
        info = SessionInfo(
            user=describe_user(user), csrf_token=row.csrf_token, expires_at=row.expires_at
        )
    return principal, info


def logout(rt: Runtime, cookie: str) -> None:
    token = unsign_session(rt, cookie)
    if token is None:
        return
    with rt.db.write() as uow:
        uow.execute(
            update(UserSessionRow)
            .where(UserSessionRow.token_hash == _digest(token), UserSessionRow.revoked_at.is_(None))
            .values(revoked_at=rt.clock.now())
        )


def create_invite(rt: Runtime, actor: Principal, user_id: int, valid_hours: float) -> InviteCreated:
    """A one-time token with which the user sets a password (workspace admins)."""
    authorize(actor, Permission.WORKSPACE_ADMIN)
    now = rt.clock.now()
    token = secrets.token_urlsafe(32)
    with rt.db.write() as uow:
        user = uow.get(UserRow, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist.", code="user_not_found")
        expires = now + timedelta(hours=valid_hours)
        uow.add(
            UserInviteRow(
                token_hash=_digest(token),
                user_id=user.id,
                created_by_user_id=actor.id if actor.kind == "user" else None,
                created_at=now,
                expires_at=expires,
            )
        )
        record_audit(
            uow,
            actor=actor,
            action="user.invite",
            target_kind="user",
            target_id=user.email,
            details={"expires_at": expires.isoformat()},
            now=now,
        )
    return InviteCreated(
        token=token, accept_path=f"{INVITE_PATH}?token={token}", expires_at=expires
    )


def accept_invite(rt: Runtime, token: str, password: str) -> UserRow:
    """Set the invited user's password; the invitation then stops working."""
    check_new_password(password)
    now = rt.clock.now()
    with rt.db.write() as uow:
        invite = uow.scalars(
            select(UserInviteRow).where(UserInviteRow.token_hash == _digest(token))
        ).one_or_none()
        if invite is None or invite.used_at is not None or invite.expires_at <= now:
            raise InvalidRequest(
                "this invitation is not valid (used, expired or mistyped); ask for a new one.",
                code="invalid_invite",
            )
        invite.used_at = now
        user = uow.get_one(UserRow, invite.user_id)
        user.password_hash = hash_password(password)
        _end_sessions(uow, user.id, now)
        principal = Principal(kind="user", id=user.id, name=user.email)
        record_audit(
            uow,
            actor=principal,
            action="user.set_password",
            target_kind="user",
            target_id=user.email,
            details={"via": "invite"},
            now=now,
        )
        return user


def change_password(rt: Runtime, actor: Principal, current: str, new: str) -> None:
    """Change one's own password; every other session of the user ends."""
    if actor.kind != "user":
        raise InvalidRequest("agents have no password.", code="not_a_user")
    check_new_password(new)
    now = rt.clock.now()
    with rt.db.write() as uow:
        user = uow.get_one(UserRow, actor.id)
        if not verify_password(user.password_hash, current):
            raise InvalidRequest("the current password is wrong.", code="wrong_password")
        user.password_hash = hash_password(new)
        _end_sessions(uow, user.id, now)
        record_audit(
            uow,
            actor=actor,
            action="user.set_password",
            target_kind="user",
            target_id=user.email,
            details={"via": "change"},
            now=now,
        )


def _end_sessions(uow: Session, user_id: int, now: datetime) -> None:
    uow.execute(
        update(UserSessionRow)
        .where(UserSessionRow.user_id == user_id, UserSessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
