"""The CLI against a real ``corral serve`` on a socket, as a new user would drive it."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from corral.cli.main import cli
from tests.live import LiveServer, live_server, server_env

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def server(home: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(home, database_url) as running:
        yield running


@pytest.fixture
def run(home: Path, database_url: str, server: LiveServer) -> object:
    env = server_env(home, database_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    return invoke


def test_first_start_prints_the_admin_key_and_logs_the_cli_in(
    server: LiveServer, home: Path, run
) -> None:
    shown = re.search(r"crl_[0-9a-f]+_[A-Za-z0-9]+", server.log())
    assert shown, server.log()
    assert "corral db admin-key" in server.log()
    config = home / "cli-config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["api_key"] == shown.group(0)
    status = json.loads(run("status", "--json").output)
    assert status["principal"]["workspace_admin"] is True
    assert status["database"] in {"sqlite", "postgresql"}


def test_new_user_flow(run) -> None:
    run("projects", "create", "acme", "--description", "Acme Corp")
    run("projects", "create", "globex")
    run("agents", "create", "researcher", "--description", "finds things")
    run("agents", "grant", "researcher", "acme")
    created = json.loads(
        run(
            "keys", "create", "research", "--agent", "researcher", "--project", "acme", "--json"
        ).output
    )
    key = created["secret"]
    assert key.startswith("crl_")

    listed = json.loads(run("--api-key", key, "projects", "list", "--json").output)
    assert [p["name"] for p in listed] == ["acme"]
    denied = run("--api-key", key, "projects", "show", "globex", ok=False)
    assert "no access to project 'globex'" in denied.output
    refused = run("--api-key", key, "projects", "create", "mine", ok=False)
    assert "workspace:admin" in refused.output

    table = run("projects", "list").output
    assert "acme" in table
    assert "globex" in table
    run("keys", "revoke", created["id"])
    revoked = run("--api-key", key, "status", ok=False)
    assert "revoked" in revoked.output


def test_login_checks_the_key_before_saving(run, server: LiveServer, home: Path) -> None:
    admin_key = json.loads((home / "cli-config.json").read_text())["api_key"]
    run("logout")
    assert not (home / "cli-config.json").exists()
    assert "no API key" in run("status", ok=False).output
    bad = run("login", "--url", server.url, "--api-key", "crl_bad_key", ok=False)
    assert "not valid" in bad.output
    assert not (home / "cli-config.json").exists()
    run("login", "--url", server.url, "--api-key", admin_key)
    assert stat.S_IMODE((home / "cli-config.json").stat().st_mode) == 0o600
    run("status")


def test_unreachable_server_is_a_clear_error(run) -> None:
    result = run("--url", "http://127.0.0.1:9", "status", ok=False)
    assert "cannot reach the Corral server" in result.output


def test_db_commands_and_lost_key_recovery(run, server: LiveServer) -> None:
    assert "head" in run("db", "current").output
    run("db", "upgrade")
    new_key = run("db", "admin-key").output.strip()
    status = json.loads(run("--api-key", new_key, "status", "--json").output)
    assert status["principal"]["workspace_admin"] is True


def test_users_and_roles_from_the_cli(run) -> None:
    run("projects", "create", "acme")
    user = json.loads(run("users", "create", "ada@example.com", "--name", "Ada", "--json").output)
    run("projects", "set-role", "acme", str(user["id"]), "viewer")
    members = json.loads(run("projects", "members", "acme", "--json").output)
    assert [(m["principal_name"], m["role"]) for m in members] == [("ada@example.com", "viewer")]
    key = json.loads(run("keys", "create", "ada", "--user-id", str(user["id"]), "--json").output)[
        "secret"
    ]
    refused = run("--api-key", key, "projects", "update", "acme", "--description", "x", ok=False)
    assert "'viewer' role" in refused.output
    run("users", "update", str(user["id"]), "--disable")
    assert "disabled" in run("--api-key", key, "status", ok=False).output


def test_policies_and_audit_from_the_cli(run, tmp_path: Path) -> None:
    run("projects", "create", "shop")
    run("agents", "create", "support")
    run("agents", "grant", "support", "shop")
    shown = run(
        "policies",
        "set",
        "support",
        "--rule",
        "allow refund when amount <= 500",
        "--rule",
        "deny delete_customer",
        "--note",
        "launch",
    ).output
    assert 'Tool::"refund"' in shown
    allowed = run(
        "policies", "check", "support", "refund", "--project", "shop", "--args", '{"amount": 20}'
    ).output
    assert "ALLOW" in allowed
    denied = json.loads(
        run(
            "policies",
            "check",
            "support",
            "refund",
            "--project",
            "shop",
            "--args",
            '{"amount": 900}',
            "--json",
        ).output
    )
    assert denied["allowed"] is False
    bad = run("policies", "set", "support", "--rule", "permit everything", ok=False)
    assert "allow" in bad.output
    cedar = tmp_path / "p.cedar"
    cedar.write_text("permit(principal, action, resource) when {")
    broken = run("policies", "set", "support", "--cedar-file", str(cedar), ok=False)
    assert "invalid_policy" in broken.output
    versions = json.loads(run("policies", "versions", "support", "--json").output)
    assert [v["version"] for v in versions] == [1]
    run("policies", "restore", "support", "1")
    run("policies", "clear", "support")
    assert "every tool is allowed" in run("policies", "show", "support").output

    decisions = json.loads(run("audit", "list", "--action", "tool.authorize", "--json").output)
    assert [d["outcome"] for d in decisions] == ["denied", "success"]
    assert "OK" in run("audit", "verify").output
    exported = tmp_path / "audit.jsonl"
    run("audit", "export", "--action", "policy.*", "--output", str(exported))
    actions = [json.loads(line)["action"] for line in exported.read_text().splitlines()]
    assert actions == ["policy.save", "policy.restore", "policy.clear"]
    # The server signs the head in the background; whatever it signed so far must verify.
    checkpoints = json.loads(run("audit", "checkpoints", "--json").output)
    assert all(c["valid"] for c in checkpoints)


def test_invite_link_from_the_cli(run, server: LiveServer) -> None:
    user = json.loads(run("users", "create", "ida@example.com", "--json").output)
    link = run("users", "invite", str(user["id"])).output.strip().splitlines()[-1]
    assert link.startswith(f"{server.url}/console/invite?token=")


def test_prices_and_costs_from_the_cli(run) -> None:
    set_ = json.loads(
        run(
            "prices", "set", "house-*", "--input", "2", "--output", "8", "--note", "ours", "--json"
        ).output
    )
    assert (set_["model"], set_["input_per_mtok"]) == ("house-*", 2.0)
    quote = json.loads(
        run(
            "prices",
            "quote",
            "house-7b",
            "--input-tokens",
            "500000",
            "--output-tokens",
            "1000",
            "--json",
        ).output
    )
    assert quote["usd"] == pytest.approx(0.5 * 2 + 0.001 * 8)
    assert quote["price_version"] == f"override:{set_['id']}"
    assert "house-*" in run("prices", "list").output
    run("prices", "remove", str(set_["id"]))
    assert "No price known" in run("prices", "quote", "house-7b").output
    report = json.loads(
        run("costs", "--by", "project", "--by", "day", "--days", "7", "--json").output
    )
    assert (report["group_by"], report["total_calls"]) == (["project", "day"], 0)
    assert "No model calls" in run("costs").output
    assert "invalid_group_by" in run("costs", "--by", "session", "--by", "model", ok=False).output
