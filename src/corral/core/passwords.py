"""Password hashing (argon2id) and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from corral.errors import InvalidRequest

MIN_LENGTH = 10
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; False for users who never set one."""
    if not password_hash:
        # Spend the same time as a real check, so timing does not reveal which accounts exist.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidRequest(
            f"the password is too short: use at least {MIN_LENGTH} characters.",
            code="weak_password",
        )
    if password.strip() != password or len(set(password)) < 4:
        raise InvalidRequest(
            "the password is too weak: avoid leading or trailing spaces and repeated characters.",
            code="weak_password",
        )
