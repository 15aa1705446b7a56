"""Reading the template's IAM statements: which actions each role is granted on which resource."""

from __future__ import annotations

import re
from typing import Any


def resource_name(resource: Any) -> str:
    """A short name for a policy Resource: a table logical id, an index path, or the secret path."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical_id, attribute = resource["Fn::GetAtt"]
        assert attribute == "Arn"
        return str(logical_id)
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        assert isinstance(text, str)
        found = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.*)", text)
        if found:
            return found.group(1) + found.group(2)
        found = re.fullmatch(r"arn:\$\{AWS::Partition\}:secretsmanager:\$\{AWS::Region\}:"
                             r"\$\{AWS::AccountId\}:(secret:.*)", text)
        assert found, f"unexpected resource {text!r}"
        return found.group(1)
    assert resource != "*", "no statement may grant on every resource"
    return str(resource)


def statements(policies: Any) -> list[dict[str, Any]]:
    """The inline statements of a function's Policies. Only inline statements are allowed, so this
    sees everything the role is granted (SAM adds only AWSLambdaBasicExecutionRole for logs)."""
    statements: list[dict[str, Any]] = []
    for policy in policies or []:
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, \
            f"only inline policy statements, not SAM policy templates or managed ARNs: {policy!r}"
        statements.extend(policy["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
        assert not any("*" in a for a in actions), f"wildcard action in {statement!r}"
        for resource in resources:
            grants.setdefault(resource_name(resource), set()).update(actions)
    return grants
