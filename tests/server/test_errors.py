from __future__ import annotations

from fastapi.testclient import TestClient

from corral.core.runtime import Runtime
from corral.server.app import create_app
from corral.settings import Settings
from tests.conftest import bearer


def test_health_endpoints_need_no_key(http: TestClient) -> None:
    assert http.get("/healthz").json() == {"status": "ok", "detail": None}
    assert http.get("/readyz").status_code == 200


def test_every_response_has_a_request_id(http: TestClient) -> None:
    assert http.get("/healthz").headers["x-request-id"].startswith("req_")
    echoed = http.get("/healthz", headers={"x-request-id": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    refused = http.get("/v1/projects")
    assert refused.json()["error"]["request_id"] == refused.headers["x-request-id"]


def test_missing_and_bad_credentials(http: TestClient) -> None:
    missing = http.get("/v1/projects")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "missing_credentials"
    bad = http.get("/v1/projects", headers=bearer("crl_nothere_secret"))
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "invalid_api_key")
    foreign = http.get("/v1/projects", headers=bearer("sk-proj-123"))
    assert foreign.json()["error"]["code"] == "invalid_api_key"


def test_x_api_key_header_is_accepted(http: TestClient, admin_key: str) -> None:
    assert http.get("/v1/status", headers={"x-api-key": admin_key}).status_code == 200


def test_malformed_json_is_400(http: TestClient, admin_key: str) -> None:
    response = http.post(
        "/v1/projects",
        content=b'{"name": ',
        headers={**bearer(admin_key), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    not_object = http.post("/v1/projects", json=[1, 2], headers=bearer(admin_key))
    assert not_object.status_code == 400


def test_invalid_fields_are_422_with_details(http: TestClient, admin_key: str) -> None:
    response = http.post(
        "/v1/projects", json={"name": "Not A Slug", "colour": "red"}, headers=bearer(admin_key)
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    fields = {e["field"] for e in error["details"]["errors"]}
    assert fields == {"name", "colour"}


def test_unknown_route_and_method(http: TestClient, admin_key: str) -> None:
    missing = http.get("/v1/nothing", headers=bearer(admin_key))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "route_not_found")
    wrong = http.put("/v1/keys", headers=bearer(admin_key))
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


def test_oversized_bodies_are_413(runtime: Runtime, admin_key: str) -> None:
    limited = Runtime(
        db=runtime.db,
        clock=runtime.clock,
        settings=Settings(database_url=runtime.settings.database_url, max_request_bytes=2048),
    )
    with TestClient(create_app(runtime=limited)) as http:
        big = {"name": "big", "description": "x" * 4000}
        declared = http.post("/v1/projects", json=big, headers=bearer(admin_key))
        assert declared.status_code == 413
        assert declared.json()["error"]["details"] == {"limit_bytes": 2048}

        def chunks():  # no Content-Length: the limit applies while reading
            yield b'{"name": "big", "description": "'
            for _ in range(10):
                yield b"x" * 500
            yield b'"}'

        streamed = http.post(
            "/v1/projects",
            content=chunks(),
            headers={**bearer(admin_key), "content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "payload_too_large"
        assert http.get("/healthz").status_code == 200
