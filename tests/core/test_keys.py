from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from corral.core import keys
from corral.core.access import Principal
from corral.core.clock import ManualClock
from corral.core.runtime import Runtime
from corral.db.schema import ApiKeyRow
from corral.errors import Forbidden, Unauthenticated
from corral.schemas.access import Permission
from corral.schemas.keys import ApiKeyCreate


def test_minted_key_has_prefix_and_only_hash_is_kept() -> None:
    minted = keys.mint_key()
    assert minted.token.startswith(f"crl_{minted.public_id}_")
    public_id, secret = keys.parse_token(minted.token)
    assert public_id == minted.public_id
    assert minted.secret_hash == keys.hash_secret(secret)
    assert secret not in minted.secret_hash


@pytest.mark.parametrize("token", ["", "sk-abc", "crl_", "crl_abc", "crl__secret", "crl_abc_"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthenticated) as err:
        keys.parse_token(token)
    assert err.value.code == "invalid_api_key"


def test_authenticate_admin_key(runtime: Runtime, admin_key: str) -> None:
    principal = keys.authenticate(runtime, admin_key)
    assert principal.kind == "user"
    assert principal.workspace_admin
    assert principal.project_scope() is None


def test_wrong_secret_is_refused(runtime: Runtime, admin_key: str) -> None:
    with pytest.raises(Unauthenticated) as err:
        keys.authenticate(runtime, admin_key[:-1] + ("A" if admin_key[-1] != "A" else "B"))
    assert err.value.code == "invalid_api_key"


def test_expired_and_revoked_keys(runtime: Runtime, admin_key: str, clock: ManualClock) -> None:
    admin = keys.authenticate(runtime, admin_key)
    created = keys.create_key(
        runtime, admin, ApiKeyCreate(name="short", expires_at=clock.now() + timedelta(hours=1))
    )
    assert keys.authenticate(runtime, created.secret).id == admin.id
    clock.advance(timedelta(hours=1))
    with pytest.raises(Unauthenticated) as err:
        keys.authenticate(runtime, created.secret)
    assert err.value.code == "api_key_expired"

    other = keys.create_key(runtime, admin, ApiKeyCreate(name="other"))
    keys.revoke_key(runtime, admin, other.id)
    with pytest.raises(Unauthenticated) as err:
        keys.authenticate(runtime, other.secret)
    assert err.value.code == "api_key_revoked"


def test_last_used_is_recorded_but_throttled(
    runtime: Runtime, admin_key: str, clock: ManualClock
) -> None:
    admin = keys.authenticate(runtime, admin_key)
    first = {k.name: k.last_used_at for k in keys.list_keys(runtime, admin)}["initial admin key"]
    assert first == clock.now()
    clock.advance(timedelta(seconds=5))
    keys.authenticate(runtime, admin_key)
    again = {k.name: k.last_used_at for k in keys.list_keys(runtime, admin)}["initial admin key"]
    assert again == first
    clock.advance(keys.LAST_USED_RESOLUTION)
    keys.authenticate(runtime, admin_key)
    later = {k.name: k.last_used_at for k in keys.list_keys(runtime, admin)}["initial admin key"]
    assert later == clock.now()


def test_limited_key_cannot_mint_a_wider_one(runtime: Runtime, admin_key: str) -> None:
    admin = keys.authenticate(runtime, admin_key)
    narrow = keys.create_key(
        runtime, admin, ApiKeyCreate(name="narrow", permissions=[Permission.TRACES_READ])
    )
    narrow_principal: Principal = keys.authenticate(runtime, narrow.secret)
    with pytest.raises(Forbidden) as err:
        keys.create_key(runtime, narrow_principal, ApiKeyCreate(name="wide"))
    assert err.value.code == "key_scope_exceeded"
    same = keys.create_key(
        runtime, narrow_principal, ApiKeyCreate(name="same", permissions=[Permission.TRACES_READ])
    )
    assert same.permissions == [Permission.TRACES_READ]


def test_a_revoked_key_stops_at_once_though_it_was_just_used(
    runtime: Runtime, admin_key: str
) -> None:
    admin = keys.authenticate(runtime, admin_key)
    other = keys.create_key(runtime, admin, ApiKeyCreate(name="busy"))
    assert keys.authenticate(runtime, other.secret).key_id == other.id  # now remembered
    keys.revoke_key(runtime, admin, other.id)
    with pytest.raises(Unauthenticated) as err:
        keys.authenticate(runtime, other.secret)
    assert err.value.code == "api_key_revoked"


def test_a_change_made_elsewhere_applies_when_the_moment_passes(
    runtime: Runtime, admin_key: str, clock: ManualClock
) -> None:
    admin = keys.authenticate(runtime, admin_key)
    other = keys.create_key(runtime, admin, ApiKeyCreate(name="elsewhere"))
    keys.authenticate(runtime, other.secret)
    # Another replica revokes it: this process hears nothing, and trusts what it read for a moment.
    with runtime.db.write() as uow:
        uow.execute(
            update(ApiKeyRow).where(ApiKeyRow.public_id == other.id).values(revoked_at=clock.now())
        )
    assert keys.authenticate(runtime, other.secret).key_id == other.id
    clock.advance(timedelta(seconds=runtime.settings.auth_cache_seconds))
    with pytest.raises(Unauthenticated) as err:
        keys.authenticate(runtime, other.secret)
    assert err.value.code == "api_key_revoked"


def test_a_key_in_steady_use_is_read_again_before_its_moment_passes(
    runtime: Runtime, admin_key: str, clock: ManualClock
) -> None:
    admin = keys.authenticate(runtime, admin_key)
    other = keys.create_key(runtime, admin, ApiKeyCreate(name="steady"))
    keys.authenticate(runtime, other.secret)
    assert keys.remembered_principal(runtime, other.secret)[1] is False  # just read
    clock.advance(timedelta(seconds=runtime.settings.auth_cache_seconds * 0.6))
    remembered, due = keys.remembered_principal(runtime, other.secret)
    assert (remembered is not None, due) == (True, True)
    # Revoked elsewhere: reading it again (what the server does off the request's path) finds
    # out, and forgets it, so the next request reads it and is refused.
    with runtime.db.write() as uow:
        uow.execute(
            update(ApiKeyRow).where(ApiKeyRow.public_id == other.id).values(revoked_at=clock.now())
        )
    with pytest.raises(Unauthenticated):
        keys.authenticate(runtime, other.secret, remembered=False)
    assert keys.remembered_principal(runtime, other.secret) == (None, False)
