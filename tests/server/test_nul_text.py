"""Text holding NUL (U+0000) is refused with a clear error on every database, never a 500:
PostgreSQL cannot store it, and SQLite must not accept what PostgreSQL refuses."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import bearer


def test_bodies_holding_nul_are_refused_and_nothing_is_stored(
    http: TestClient, admin_key: str
) -> None:
    headers = bearer(admin_key)
    assert http.post("/v1/projects", json={"name": "alpha"}, headers=headers).status_code == 201

    refused = http.post(
        "/v1/projects/alpha/memory/items", json={"content": "deploy\u0000day"}, headers=headers
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_request"
    assert "NUL" in error["message"]

    nested = http.post(
        "/v1/projects/alpha/memory/items/batch",
        json={"items": [{"content": "fine"}, {"content": "ok", "tags": ["a\u0000"]}]},
        headers=headers,
    )
    assert nested.status_code == 422
    described = http.post(
        "/v1/projects", json={"name": "beta", "description": "\u0000"}, headers=headers
    )
    assert described.status_code == 422

    listed = http.get("/v1/projects/alpha/memory/items", headers=headers)
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    assert [p["name"] for p in http.get("/v1/projects", headers=headers).json()["data"]] == [
        "alpha"
    ]


def test_urls_holding_nul_are_refused(http: TestClient, admin_key: str) -> None:
    headers = bearer(admin_key)
    assert http.post("/v1/projects", json={"name": "alpha"}, headers=headers).status_code == 201
    for path in (
        "/v1/projects/alpha/traces?q=a%00b",
        "/v1/projects/alpha/traces?agent=%00",
        "/v1/projects/alpha/memory/items?q=x%00",
        "/v1/projects/al%00pha/traces",
    ):
        response = http.get(path, headers=headers)
        assert response.status_code == 422, path
        assert response.json()["error"]["code"] == "invalid_text", path
    assert http.get("/v1/projects/alpha/traces?q=ab", headers=headers).status_code == 200
