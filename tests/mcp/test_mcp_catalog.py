"""tools/list as a client sees it, in both protocol generations: names, annotations (SPEC §9), input
schemas built from the layer's request models, output schemas that the results actually satisfy."""

from __future__ import annotations

from typing import Any

import pytest
from capi_writeback.contracts.writeback import ConfirmRequest, DryRunRequest
from capi_writeback_local.local_api import LocalApi
from jsonschema import Draft202012Validator
from mcp.types import Tool
from mcp_support import MODES, Mcp

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", params=MODES)
def tools(request: pytest.FixtureRequest, api: LocalApi) -> dict[str, Tool]:
    listed = Mcp(api.url + "/v1/mcp", api.seed.read_token, request.param).list_tools()
    return {tool.name: tool for tool in listed}


def test_the_phase_one_tools_are_listed(tools: dict[str, Tool]) -> None:
    assert {"send_meta_conversions", "get_writeback_audit"} <= set(tools)
    for tool in tools.values():
        assert tool.description and tool.title
        Draft202012Validator.check_schema(tool.input_schema)
        assert tool.output_schema is not None
        Draft202012Validator.check_schema(tool.output_schema)
        assert tool.output_schema["type"] == "object" and tool.input_schema["type"] == "object"


def test_annotations_follow_spec_9(tools: dict[str, Tool]) -> None:
    send = tools["send_meta_conversions"].annotations
    assert send is not None
    assert (send.read_only_hint, send.destructive_hint, send.idempotent_hint, send.open_world_hint) == (
        False, True, True, True)
    audit = tools["get_writeback_audit"].annotations
    assert audit is not None and audit.read_only_hint is True and audit.destructive_hint is False


def test_send_schema_is_the_selection_of_the_http_api(tools: dict[str, Tool]) -> None:
    schema: dict[str, Any] = tools["send_meta_conversions"].input_schema
    assert schema["required"] == ["mode", "profile_id"] and schema["additionalProperties"] is False
    properties = schema["properties"]
    assert properties["mode"]["enum"] == ["preview", "dry_run", "confirm"]
    http_fields = set(ConfirmRequest.model_fields) | set(DryRunRequest.model_fields)
    assert set(properties) == {"mode", "profile_id"} | http_fields
    # the limits are the HTTP models' own, not a copy
    last_days = next(p for p in properties["last_days"]["anyOf"] if p.get("type") == "integer")
    assert (last_days["minimum"], last_days["maximum"]) == (1, 62)
    assert "dry_run" in properties["test_event_code"]["description"]
    assert "confirm" in properties["idempotency_key"]["description"]


def test_audit_schema(tools: dict[str, Tool]) -> None:
    schema: dict[str, Any] = tools["get_writeback_audit"].input_schema
    assert schema["required"] == ["profile_id"] and schema["additionalProperties"] is False
    assert schema["properties"]["limit"]["maximum"] == 100
    assert set(schema["properties"]) == {"profile_id", "limit", "next"}
