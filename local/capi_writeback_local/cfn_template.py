"""Read template.yaml the way CloudFormation does, so local tools reuse its table definitions.

PyYAML's safe loader rejects CloudFormation's short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt`...);
`load_template` turns each into its long form (`{"Ref": ...}`, `{"Fn::Sub": ...}`) so the rest of
the code deals with plain dicts and lists only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A safe loader that also understands the CloudFormation short-form tags."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":  # !GetAtt Resource.Attribute -> ["Resource", "Attribute"]
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: str | Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """The template as plain data, intrinsics in long form."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_CfnLoader)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a CloudFormation template")
    return data


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource for every resource of one type."""
    resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
    return {lid: res for lid, res in resources.items() if res.get("Type") == resource_type}
