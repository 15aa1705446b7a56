"""What every in-memory backend shares: values go in and out as JSON copies, so callers can neither
mutate stored state nor store what DynamoDB could not (each backend holds its own lock)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def json_copy(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def json_copy_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json_copy(dict(value))
    return copied
