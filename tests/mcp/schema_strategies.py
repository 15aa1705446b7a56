"""Hypothesis strategies from the JSON Schemas the MCP tools publish (the subset they use).

hypothesis-jsonschema does not work with current Hypothesis releases, and the tools' schemas use a
small, fixed subset of JSON Schema: this covers exactly that subset and refuses anything else, so a
schema that grows a keyword cannot be fuzzed with part of its meaning ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

ANNOTATIONS = {"title", "description", "default"}
HANDLED = ANNOTATIONS | {"type", "properties", "required", "additionalProperties", "items", "minItems",
                         "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "enum",
                         "anyOf", "$ref", "$defs", "format", "minProperties", "maxProperties"}
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
DATES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    root = root or schema
    unknown = set(schema) - HANDLED
    if unknown:
        raise ValueError(f"schema keywords not covered: {sorted(unknown)}")
    if "$ref" in schema:
        return from_schema(root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, root) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "string":
        if schema.get("format") == "date-time":
            return DATES.map(lambda d: d.isoformat())
        if "pattern" in schema:
            text = st.from_regex(schema["pattern"], fullmatch=True)
        else:
            text = st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 40))
        return text.filter(lambda s: schema.get("minLength", 0) <= len(s) <= schema.get("maxLength", 10**6))
    if kind == "array":
        return st.lists(from_schema(schema["items"], root), min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 5), 5))
    if kind == "object":
        properties = schema.get("properties")
        if properties is None:  # a free-form object (a conversion row, an event's user_data)
            return st.dictionaries(st.text(max_size=12), ANY_JSON, min_size=schema.get("minProperties", 0),
                                   max_size=min(schema.get("maxProperties", 6), 6))
        required = set(schema.get("required", ()))
        drawn = {name: from_schema(prop, root) for name, prop in properties.items()}
        return st.fixed_dictionaries({k: v for k, v in drawn.items() if k in required},
                                     optional={k: v for k, v in drawn.items() if k not in required})
    raise ValueError(f"schema type not covered: {kind!r}")
