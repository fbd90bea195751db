from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import corral
from corral.core.clock import ManualClock
from corral.core.runtime import Runtime
from corral.db.schema import UserRow
from tests.conftest import bearer

PASSWORD = "correct horse battery"


def invite_and_accept(http: TestClient, admin: corral.Client, email: str) -> int:
    user = admin.users.create(email)
    admin.projects.set_role("acme", user.id, "member")
    invite = admin.users.invite(user.id)
    assert invite.accept_path.endswith(invite.token)
    accepted = http.post(
        "/v1/auth/accept-invite", json={"token": invite.token, "password": PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text
    http.cookies.clear()
    return user.id


def login(http: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"x-csrf-token": response.json()["csrf_token"]}


@pytest.fixture
def ada(http: TestClient, admin: corral.Client) -> int:
    admin.projects.create("acme")
    return invite_and_accept(http, admin, "ada@example.com")


def test_cookie_is_httponly_lax_and_secure_over_https(
    http: TestClient, ada: int, runtime: Runtime
) -> None:
    response = http.post("/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert "corral_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie
    secure = TestClient(http.app, base_url="https://testserver")
    with secure:
        over_tls = secure.post(
            "/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
    assert "Secure" in over_tls.headers["set-cookie"]


def test_session_reads_and_csrf_guards_writes(http: TestClient, ada: int) -> None:
    csrf = login(http, "ada@example.com")
    session = http.get("/v1/auth/session").json()
    assert session["user"]["email"] == "ada@example.com"
    assert [p["name"] for p in http.get("/v1/projects").json()["data"]] == ["acme"]
    no_token = http.patch("/v1/projects/acme", json={"description": "x"})
    assert (no_token.status_code, no_token.json()["error"]["code"]) == (403, "csrf_failed")
    wrong = http.patch(
        "/v1/projects/acme", json={"description": "x"}, headers={"x-csrf-token": "nope"}
    )
    assert wrong.status_code == 403
    ok = http.patch("/v1/projects/acme", json={"description": "x"}, headers=csrf)
    assert ok.status_code == 200
    # Roles come from the same authorization function as for keys.
    refused = http.patch("/v1/projects/acme", json={"name": "renamed"}, headers=csrf)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")


def test_disabled_user_session_stops_working(
    http: TestClient, admin: corral.Client, ada: int
) -> None:
    login(http, "ada@example.com")
    assert http.get("/v1/projects").status_code == 200
    admin.users.update(ada, disabled=True)
    response = http.get("/v1/projects")
    assert (response.status_code, response.json()["error"]["code"]) == (401, "principal_disabled")
    http.cookies.clear()
    again = http.post("/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert again.status_code == 401


def test_logout_and_expiry(
    http: TestClient, ada: int, clock: ManualClock, runtime: Runtime
) -> None:
    login(http, "ada@example.com")
    cookie = http.cookies.get("corral_session")
    assert http.post("/v1/auth/logout").status_code == 204
    http.cookies.set("corral_session", cookie)
    assert http.get("/v1/projects").json()["error"]["code"] == "session_expired"
    http.cookies.clear()
    login(http, "ada@example.com")
    clock.advance(timedelta(hours=runtime.settings.session_hours, seconds=1))
    assert http.get("/v1/projects").status_code == 401


def test_forged_cookie_is_refused(http: TestClient, ada: int) -> None:
    login(http, "ada@example.com")
    token = http.cookies.get("corral_session")
    http.cookies.clear()
    http.cookies.set("corral_session", token.split(".")[0] + ".0000")
    assert http.get("/v1/projects").json()["error"]["code"] == "bad_session"


def test_login_rate_limit(http: TestClient, ada: int, clock: ManualClock, runtime: Runtime) -> None:
    for _ in range(runtime.settings.login_max_failures):
        bad = http.post(
            "/v1/auth/login", json={"email": "ada@example.com", "password": "wrong wrong"}
        )
        assert (bad.status_code, bad.json()["error"]["code"]) == (401, "login_failed")
    blocked = http.post("/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert (blocked.status_code, blocked.json()["error"]["code"]) == (
        429,
        "too_many_login_attempts",
    )
    clock.advance(timedelta(minutes=runtime.settings.login_window_minutes, seconds=1))
    login(http, "ada@example.com")


def test_unknown_and_wrong_give_the_same_answer(http: TestClient, ada: int) -> None:
    unknown = http.post("/v1/auth/login", json={"email": "ghost@example.com", "password": "x" * 12})
    wrong = http.post("/v1/auth/login", json={"email": "ada@example.com", "password": "x" * 12})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]


def test_passwords_are_hashed_and_never_logged(
    http: TestClient, admin: corral.Client, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin.projects.create("acme")
    invite_and_accept(http, admin, "bob@example.com")
    login(http, "bob@example.com")
    with runtime.db.read() as uow:
        stored = uow.scalars(
            select(UserRow.password_hash).where(UserRow.email == "bob@example.com")
        ).one()
    assert stored
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PASSWORD not in caplog.text
    events = admin.audit.list(action="user.*")
    assert all(PASSWORD not in e.model_dump_json() for e in events)


def test_invites_are_single_use_and_checked(http: TestClient, admin: corral.Client) -> None:
    user = admin.users.create("cy@example.com")
    invite = admin.users.invite(user.id, valid_hours=1)
    weak = http.post("/v1/auth/accept-invite", json={"token": invite.token, "password": "short"})
    assert (weak.status_code, weak.json()["error"]["code"]) == (422, "weak_password")
    ok = http.post("/v1/auth/accept-invite", json={"token": invite.token, "password": PASSWORD})
    assert ok.status_code == 200
    reused = http.post("/v1/auth/accept-invite", json={"token": invite.token, "password": PASSWORD})
    assert reused.json()["error"]["code"] == "invalid_invite"


def test_change_password_ends_other_sessions(http: TestClient, ada: int, admin_key: str) -> None:
    csrf = login(http, "ada@example.com")
    old_cookie = http.cookies.get("corral_session")
    http.cookies.clear()
    http.cookies.set("corral_session", old_cookie)
    changed = http.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a whole new phrase"},
        headers=csrf,
    )
    assert changed.status_code == 204
    http.cookies.clear()
    http.cookies.set("corral_session", old_cookie)
    assert http.get("/v1/projects").status_code == 401
    http.cookies.clear()
    login(http, "ada@example.com", "a whole new phrase")
    agentless = http.post(
        "/v1/auth/password",
        json={"current_password": "x", "new_password": "a whole new phrase"},
        headers=bearer(admin_key),
    )
    assert agentless.json()["error"]["code"] == "wrong_password"
