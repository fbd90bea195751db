"""People who use Corral."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize
from corral.core.audit import record_audit
from corral.core.pagination import decode_cursor, encode_cursor
from corral.core.runtime import Runtime
from corral.db.schema import UserRow
from corral.errors import Conflict, InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.common import Page
from corral.schemas.tenancy import User, UserCreate, UserUpdate


def describe_user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        workspace_admin=row.workspace_admin,
        disabled=row.disabled,
        created_at=row.created_at,
    )


def create_user(rt: Runtime, actor: Principal, body: UserCreate) -> User:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    row = UserRow(
        email=body.email.lower(),
        name=body.name,
        workspace_admin=body.workspace_admin,
        disabled=False,
        created_at=rt.clock.now(),
    )
    try:
        with rt.db.write() as uow:
            uow.add(row)
            uow.flush()
            record_audit(
                uow,
                actor=actor,
                action="user.create",
                target_kind="user",
                target_id=row.email,
                details={"workspace_admin": row.workspace_admin},
                now=row.created_at,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"a user with email {body.email!r} already exists.", code="user_exists"
        ) from exc
    return describe_user(row)


def list_users(
    rt: Runtime, actor: Principal, *, limit: int = 100, cursor: str | None = None
) -> Page[User]:
    """Every user, for workspace admins; other callers see only themselves."""
    query = select(UserRow).order_by(UserRow.id)
    if not actor.may(Permission.WORKSPACE_ADMIN):
        query = query.where(UserRow.id == (actor.id if actor.kind == "user" else -1))
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        query = query.where(UserRow.id > int(last_id))
    with rt.db.read() as uow:
        rows = uow.scalars(query.limit(limit + 1)).all()
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page[User](data=[describe_user(r) for r in rows[:limit]], next_cursor=next_cursor)


def get_user(rt: Runtime, actor: Principal, user_id: int) -> User:
    if not (actor.kind == "user" and actor.id == user_id):
        authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.read() as uow:
        return describe_user(_user_row(uow, user_id))


def update_user(rt: Runtime, actor: Principal, user_id: int, body: UserUpdate) -> User:
    """Rename a user (themselves or an admin), or change admin status or disable (admins only)."""
    changes = body.model_dump(exclude_unset=True)
    if changes.keys() - {"name"} or not (actor.kind == "user" and actor.id == user_id):
        authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.write() as uow:
        row = _user_row(uow, user_id)
        demoting = changes.get("workspace_admin") is False or changes.get("disabled") is True
        if demoting and row.workspace_admin and _is_last_admin(uow, row):
            raise InvalidRequest(
                "this is the last enabled workspace administrator; make another one first.",
                code="last_workspace_admin",
            )
        before = {field: getattr(row, field) for field in changes}
        for field, value in changes.items():
            setattr(row, field, value)
        uow.flush()
        record_audit(
            uow,
            actor=actor,
            action="user.update",
            target_kind="user",
            target_id=row.email,
            details={"before": before, "after": changes},
            now=rt.clock.now(),
        )
        return describe_user(row)


def _is_last_admin(uow: Session, row: UserRow) -> bool:
    others = uow.scalars(
        select(UserRow.id).where(
            UserRow.workspace_admin.is_(True), UserRow.disabled.is_(False), UserRow.id != row.id
        )
    ).first()
    return others is None


def _user_row(uow: Session, user_id: int) -> UserRow:
    row = uow.get(UserRow, user_id)
    if row is None:
        raise NotFound(f"user {user_id} does not exist.", code="user_not_found")
    return row
