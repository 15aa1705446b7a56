"""Reading the template's IAM statements: which actions each role is granted on which resource.

A function's (or state machine's) `Policies` may hold inline statements and `!Ref`s to the
template's own `AWS::IAM::ManagedPolicy` resources (the statements several roles share); the
statements of a role are both, resolved here, so every check sees everything a role is granted.
SAM adds only AWS-managed policies of its own (CloudWatch Logs; X-Ray segments with active tracing),
never table or secret access.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from capi_writeback_local.cfn_template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
MANAGED_POLICIES = resources_of_type(TEMPLATE, "AWS::IAM::ManagedPolicy")


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
        if found:
            return found.group(1)
        # Resources of the stack's own name, e.g. the sync state machine, its schedules, Glue tables.
        found = re.fullmatch(r"arn:\$\{AWS::Partition\}:(states|scheduler|athena|glue):\$\{AWS::Region\}:"
                             r"\$\{AWS::AccountId\}:(.+)", text)
        assert found, f"unexpected resource {text!r}"
        return f"{found.group(1)}:{found.group(2)}"
    assert resource != "*", "no statement may grant on every resource"
    return str(resource)


def managed_policy_of(policy: Any) -> str | None:
    """The logical id of a template managed policy referenced as `!Ref X`, else None."""
    if isinstance(policy, dict) and set(policy) == {"Ref"} and policy["Ref"] in MANAGED_POLICIES:
        return str(policy["Ref"])
    return None


def statements(policies: Any) -> list[dict[str, Any]]:
    """The statements of a function's Policies: inline ones, and those of the template's managed
    policies it references. SAM policy templates and outside managed ARNs are refused, so this
    sees everything the role is granted (besides what SAM adds, see the module docstring)."""
    found: list[dict[str, Any]] = []
    for policy in policies or []:
        managed = managed_policy_of(policy)
        if managed is not None:
            found.extend(MANAGED_POLICIES[managed]["Properties"]["PolicyDocument"]["Statement"])
            continue
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, \
            f"only inline statements or this template's managed policies: {policy!r}"
        found.extend(policy["Statement"])
    return found


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
