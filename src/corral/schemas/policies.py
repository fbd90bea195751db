"""Tool policies: which tools an agent may call, with conditions on the arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from corral.schemas.common import Model, ResponseModel

ArgPath = str
Scalar = str | int | float | bool


class ToolCondition(Model):
    """A test on one argument of the tool call; ``arg`` may be a dotted path into nested
    objects (``customer.id``). A condition on an argument the call does not pass is false."""

    arg: ArgPath = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$", examples=["amount"]
    )
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "prefix", "domain_in"]
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_fits_op(self) -> ToolCondition:
        listy = self.op in ("in", "not_in", "domain_in")
        if listy != isinstance(self.value, list):
            shape = "a list" if listy else "a single value"
            raise ValueError(f"operator {self.op!r} takes {shape}")
        if self.op in ("<", "<=", ">", ">=") and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"operator {self.op!r} compares numbers")
        if self.op in ("prefix",) and not isinstance(self.value, str):
            raise ValueError("operator 'prefix' takes a string")
        if self.op == "domain_in" and not all(isinstance(v, str) and v for v in self.value):  # type: ignore[union-attr]
            raise ValueError("operator 'domain_in' takes a list of domain names")
        return self


class ToolRule(Model):
    """Allow or deny some tools, optionally only when every condition holds and only in some
    projects. A deny always wins over an allow."""

    effect: Literal["allow", "deny"]
    tools: list[str] = Field(min_length=1, description="Tool names; '*' means every tool.")
    when: list[ToolCondition] = Field(default_factory=list)
    projects: list[str] | None = Field(default=None, description="Only in these projects.")


class PolicySave(Model):
    """A new version of an agent's tool policy: simple ``rules`` (compiled to Cedar) or raw
    ``cedar`` for power users — exactly one of the two."""

    rules: list[ToolRule] | None = None
    cedar: str | None = Field(default=None, max_length=200_000)
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _one_form(self) -> PolicySave:
        if (self.rules is None) == (self.cedar is None):
            raise ValueError("give either 'rules' or 'cedar'")
        return self


class ToolPolicy(ResponseModel):
    agent: str
    version: int
    active: bool
    cedar: str | None = Field(description="The Cedar source in force; null means no policy.")
    rules: list[ToolRule] | None
    note: str
    created_by: str
    created_at: datetime


class AuthorizeRequest(Model):
    project: str
    tool: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)
    agent: str | None = Field(
        default=None, description="The agent to decide for; defaults to the calling agent."
    )


class AuthorizeDecision(ResponseModel):
    allowed: bool
    reason: Literal["no_policy", "permitted", "forbidden", "not_permitted", "error"]
    message: str
    agent: str
    tool: str
    policies: list[str] = Field(description="Ids of the policy statements that decided.")
    policy_version: int | None
    errors: list[str] = Field(default_factory=list)


_OPS = ("<=", ">=", "==", "!=", "<", ">", "not_in", "in", "prefix", "domain_in")


def parse_rule(text: str) -> ToolRule:
    """Read the one-line rule form used by the CLI and the console::

        allow refund when amount <= 500
        allow fetch when url domain_in example.com,docs.example.com
        deny delete_user, drop_table in projects prod
        allow * when region == "eu" and dry_run == true

    ``EFFECT TOOLS [when CONDITION [and CONDITION]...] [in projects P1[,P2]]``; list values are
    comma-separated; a value that reads as JSON (number, true/false, quoted string) is taken as
    such, anything else as a string.
    """
    words = text.strip()
    effect, _, rest = words.partition(" ")
    if effect not in ("allow", "deny"):
        raise ValueError(f"a rule starts with 'allow' or 'deny', not {effect!r}")
    projects: list[str] | None = None
    head, sep, tail = rest.rpartition(" in projects ")
    if sep:
        rest, projects = head, [p.strip() for p in tail.split(",") if p.strip()]
    tools_part, _, conditions_part = rest.partition(" when ")
    tools = [t.strip() for t in tools_part.split(",") if t.strip()]
    conditions = []
    for clause in filter(None, (c.strip() for c in conditions_part.split(" and "))):
        for op in _OPS:
            arg, found, value = clause.partition(f" {op} ")
            if found:
                break
        else:
            raise ValueError(f"cannot read the condition {clause!r}: use 'ARG OP VALUE'")
        listy = op in ("in", "not_in", "domain_in")
        parsed: Scalar | list[Scalar] = (
            [_scalar(v) for v in value.split(",") if v.strip()] if listy else _scalar(value)
        )
        conditions.append(ToolCondition(arg=arg.strip(), op=op, value=parsed))
    return ToolRule(effect=effect, tools=tools, when=conditions, projects=projects)


def _scalar(text: str) -> Scalar:
    import json

    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str | int | float | bool) else text
