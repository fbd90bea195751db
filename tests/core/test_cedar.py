from __future__ import annotations

from typing import Any

import pytest

from corral.core.cedar import cedar_string, compile_rules, evaluate, parse_policy
from corral.errors import InvalidRequest
from corral.schemas.policies import ToolRule, parse_rule


def decide(
    rules: list[str], tool: str, args: dict[str, Any], project: str = "dev"
) -> tuple[bool, str]:
    parsed = parse_policy("bot", compile_rules("bot", [parse_rule(r) for r in rules]))
    result = evaluate(parsed, "bot", project, tool, args)
    return result.allowed, result.reason


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        ({"amount": 500}, True),
        ({"amount": 499.99}, True),
        ({"amount": 500.01}, False),
        ({"amount": 10_000}, False),
        ({}, False),  # a condition on a missing argument is false
        ({"amount": "100"}, False),  # a string is not a number: evaluation error, denied
    ],
)
def test_numeric_argument_condition(args: dict[str, Any], allowed: bool) -> None:
    assert decide(["allow refund when amount <= 500"], "refund", args)[0] is allowed


def test_unlisted_tool_is_denied_by_default() -> None:
    assert decide(["allow search"], "delete_everything", {}) == (False, "not_permitted")


def test_deny_wins_over_allow() -> None:
    rules = ["allow *", "deny drop_table"]
    assert decide(rules, "search", {}) == (True, "permitted")
    assert decide(rules, "drop_table", {}) == (False, "forbidden")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://example.com/a", True),
        ("https://API.Example.com:8443/a", True),
        ("http://docs.example.com", True),
        ("https://example.com.evil.net/", False),
        ("https://evil.net/?next=https://x.example.com", False),
        ("https://notexample.com/", False),
        ("ftp://example.com/", False),
        ("example.com", False),
    ],
)
def test_domain_condition_parses_hosts(url: str, allowed: bool) -> None:
    assert (
        decide(["allow fetch when url domain_in example.com"], "fetch", {"url": url})[0] is allowed
    )


def test_prefix_nested_list_and_project_conditions() -> None:
    assert decide(["allow read when path prefix /data/"], "read", {"path": "/data/x"})[0]
    assert not decide(["allow read when path prefix /data/"], "read", {"path": "/etc/passwd"})[0]
    # '*' in a prefix is literal, not a wildcard.
    assert not decide(["allow read when path prefix /da*"], "read", {"path": "/dataset"})[0]
    rules = ['allow pay when customer.tier in gold,silver and currency == "EUR"']
    assert decide(rules, "pay", {"customer": {"tier": "gold"}, "currency": "EUR"})[0]
    assert not decide(rules, "pay", {"customer": {"tier": "bronze"}, "currency": "EUR"})[0]
    assert not decide(rules, "pay", {"customer": "gold", "currency": "EUR"})[0]
    scoped = ["allow deploy in projects staging"]
    assert decide(scoped, "deploy", {}, project="staging")[0]
    assert not decide(scoped, "deploy", {}, project="production")[0]


def test_booleans_lists_and_nulls_in_arguments() -> None:
    rules = ["allow send when dry_run == true"]
    assert decide(rules, "send", {"dry_run": True, "to": ["a", "b"], "cc": None})[0]
    assert not decide(rules, "send", {"dry_run": False})[0]


def test_raw_cedar_is_checked_at_parse_time() -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_policy("bot", "permit(principal, action, resource) when { context.x <<< 3 };")
    assert err.value.code == "invalid_policy"
    assert "does not parse" in err.value.message
    with pytest.raises(InvalidRequest, match="only name Agent::'bot'"):
        parse_policy("bot", 'permit(principal == Agent::"other", action, resource);')
    with pytest.raises(InvalidRequest, match="call_tool"):
        parse_policy("bot", 'permit(principal, action == Action::"delete", resource);')
    raw = parse_policy(
        "bot",
        '@id("small-refunds")\npermit(principal, action == Action::"call_tool", '
        'resource == Tool::"refund") when { context.args.amount.lessThan(decimal("100.0")) };',
    )
    assert evaluate(raw, "bot", "p", "refund", {"amount": 50}).policies == ["small-refunds"]


def test_cedar_string_escapes() -> None:
    assert cedar_string('a"b\\c\n') == '"a\\"b\\\\c\\u{a}"'
    odd = ToolRule(effect="allow", tools=['we"ird\\tool'])
    parsed = parse_policy("bot", compile_rules("bot", [odd]))
    assert evaluate(parsed, "bot", "p", 'we"ird\\tool', {}).allowed


@pytest.mark.parametrize(
    "text",
    [
        "permit refund",
        "allow refund when amount",
        "allow refund when amount <= lots",
        "allow refund when amount <= 5,6",
        "allow refund when 9x == 1",
    ],
)
def test_bad_rule_text(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic and parser errors are ValueErrors
        parse_rule(text)
