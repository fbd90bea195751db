"""Tool policies in Cedar: compiling the simple rule form, checking raw policies, evaluating calls.

The request model: principal ``Agent::"<name>"``, action ``Action::"call_tool"``, resource
``Tool::"<name>"``, context ``{project, args, arg_hosts}``. Argument values become Cedar values;
every number becomes a Cedar ``decimal`` (Cedar has no floats), so policies compare numbers with
``.lessThanOrEqual(decimal("500.0"))`` and friends. ``arg_hosts`` holds the lower-cased host of
each top-level string argument that is an http(s) URL, so domain rules never pattern-match whole
URLs (``https://evil.com/?x=.example.com`` must not pass for ``example.com``).

Cedar denies by default, a ``forbid`` beats any ``permit``, and a statement that fails to evaluate
is ignored by Cedar; Corral treats any evaluation error as a denial (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import cedarpy

from corral.errors import InvalidRequest
from corral.schemas.policies import ToolCondition, ToolRule

ACTION = 'Action::"call_tool"'
_DECIMAL_LIMIT = Decimal("922337203685477.5807")


def cedar_string(value: str) -> str:
    """A Cedar string literal."""
    escaped = "".join(
        "\\\\"
        if ch == "\\"
        else '\\"'
        if ch == '"'
        else f"\\u{{{ord(ch):x}}}"
        if ord(ch) < 32
        else ch
        for ch in value
    )
    return f'"{escaped}"'


def _decimal_literal(number: int | float) -> str:
    value = Decimal(str(number)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
    text = format(value.normalize(), "f")
    return f"decimal({cedar_string(text if '.' in text else text + '.0')})"


def _arg_expr(path: str) -> tuple[str, str]:
    """The expression reaching an argument, and the guard that it exists."""
    expr, guards = "context.args", []
    for part in path.split("."):
        guards.append(f"{expr} has {cedar_string(part)}")
        expr = f"{expr}[{cedar_string(part)}]"
    return expr, " && ".join(guards)


def _compile_condition(condition: ToolCondition) -> str:
    arg, guard = _arg_expr(condition.arg)
    op, value = condition.op, condition.value
    if op == "domain_in":
        host = f"context.arg_hosts[{cedar_string(condition.arg)}]"
        assert isinstance(value, list)
        options = " || ".join(
            f"{host} == {cedar_string(d.lower())} || {host} like {cedar_string('*.' + d.lower())}"
            for d in map(str, value)
        )
        return f"(context.arg_hosts has {cedar_string(condition.arg)} && ({options}))"
    if op in ("in", "not_in"):
        assert isinstance(value, list)
        members = ", ".join(_literal(v) for v in value)
        test = f"[{members}].contains({arg})"
        return f"({guard} && {'!' if op == 'not_in' else ''}{test})"
    if op == "prefix":
        return f"({guard} && {arg} like {_prefix_pattern(str(value))})"
    if op in ("<", "<=", ">", ">="):
        method = {
            "<": "lessThan",
            "<=": "lessThanOrEqual",
            ">": "greaterThan",
            ">=": "greaterThanOrEqual",
        }[op]
        assert isinstance(value, int | float)
        return f"({guard} && {arg}.{method}({_decimal_literal(value)}))"
    comparison = "==" if op == "==" else "!="
    return f"({guard} && {arg} {comparison} {_literal(value)})"  # type: ignore[arg-type]


def _prefix_pattern(prefix: str) -> str:
    """A ``like`` pattern for strings starting with ``prefix`` (whose ``*`` are literal)."""
    body = cedar_string(prefix)[1:-1].replace("*", "\\*")
    return f'"{body}*"'


def _literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _decimal_literal(value)
    return cedar_string(value)


def compile_rules(agent: str | None, rules: list[ToolRule]) -> str:
    """Cedar source for the simple rule form, one statement per rule and tool (for any agent
    when ``agent`` is None, as project constraints are)."""
    statements = []
    for index, rule in enumerate(rules, start=1):
        for tool in rule.tools:
            resource = "resource" if tool == "*" else f"resource == Tool::{cedar_string(tool)}"
            conditions = [_compile_condition(c) for c in rule.when]
            if rule.projects is not None:
                projects = ", ".join(cedar_string(p) for p in rule.projects)
                conditions.insert(0, f"[{projects}].contains(context.project)")
            effect = "permit" if rule.effect == "allow" else "forbid"
            label = f"rule-{index}" + ("" if tool == "*" else f":{tool}")
            body = f" when {{ {' && '.join(conditions)} }}" if conditions else ""
            principal = (
                "principal" if agent is None else f"principal == Agent::{cedar_string(agent)}"
            )
            statements.append(
                f"@id({cedar_string(label)})\n{effect} ({principal}, "
                f"action == {ACTION}, {resource}){body};"
            )
    return "\n\n".join(statements)


@dataclass(frozen=True)
class ParsedPolicy:
    policy_set: cedarpy.PolicySet
    labels: dict[str, str]
    """Cedar's positional ids (``policy0``) → the statement's ``@id`` annotation, if any."""


@lru_cache(maxsize=512)
def parse_policy(agent: str, source: str) -> ParsedPolicy:
    """Parse and check a policy for ``agent``; the engine's message is kept on failure."""
    try:
        policy_set = cedarpy.PolicySet.from_str(source)
        document = json.loads(cedarpy.policies_to_json_str(source))
    except ValueError as exc:
        raise InvalidRequest(
            f"the Cedar policy does not parse: {exc}", code="invalid_policy"
        ) from exc
    labels: dict[str, str] = {}
    for policy_id, policy in document.get("staticPolicies", {}).items():
        principal = policy.get("principal", {})
        entity = principal.get("entity") or {}
        if entity and (entity.get("type") != "Agent" or entity.get("id") != agent):
            raise InvalidRequest(
                f"statement {policy_id} is about {entity.get('type')}::{entity.get('id')!r}; a "
                f"policy of agent {agent!r} may only name Agent::{agent!r} as principal.",
                code="invalid_policy",
            )
        action = policy.get("action", {}).get("entity") or {}
        if action and action != {"type": "Action", "id": "call_tool"}:
            raise InvalidRequest(
                f"statement {policy_id} names action {action.get('type')}::{action.get('id')!r}; "
                'tool policies use Action::"call_tool".',
                code="invalid_policy",
            )
        labels[policy_id] = policy.get("annotations", {}).get("id", policy_id)
    if document.get("templates"):
        raise InvalidRequest("policy templates are not supported.", code="invalid_policy")
    return ParsedPolicy(policy_set=policy_set, labels=labels)


def cedar_value(value: Any) -> Any:
    """A JSON argument value as a Cedar JSON value (numbers as decimals; nulls dropped)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        try:
            number = Decimal(str(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
        except InvalidOperation:
            return str(value)
        if abs(number) > _DECIMAL_LIMIT:
            return str(value)
        text = format(number.normalize(), "f")
        return {"__extn": {"fn": "decimal", "arg": text if "." in text else text + ".0"}}
    if isinstance(value, Mapping):
        return {str(k): cedar_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [cedar_value(v) for v in value if v is not None]
    return str(value)


def _hosts(args: Mapping[str, Any]) -> dict[str, str]:
    hosts = {}
    for name, value in args.items():
        if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
            try:
                host = urlsplit(value).hostname
            except ValueError:
                continue
            if host:
                hosts[str(name)] = host.lower().rstrip(".")
    return hosts


@dataclass(frozen=True)
class Evaluation:
    allowed: bool
    reason: str
    policies: list[str]
    errors: list[str]


def evaluate(
    parsed: ParsedPolicy, agent: str, project: str, tool: str, args: Mapping[str, Any]
) -> Evaluation:
    request = {
        "principal": {"type": "Agent", "id": agent},
        "action": {"type": "Action", "id": "call_tool"},
        "resource": {"type": "Tool", "id": tool},
        "context": {"project": project, "args": cedar_value(args), "arg_hosts": _hosts(args)},
    }
    result = cedarpy.is_authorized(request, parsed.policy_set, [])
    reasons = [parsed.labels.get(r, r) for r in result.diagnostics.reasons]
    errors = [str(e) for e in result.diagnostics.errors]
    if errors:
        return Evaluation(False, "error", reasons, errors)
    if result.allowed:
        return Evaluation(True, "permitted", reasons, [])
    return Evaluation(False, "forbidden" if reasons else "not_permitted", reasons, [])
