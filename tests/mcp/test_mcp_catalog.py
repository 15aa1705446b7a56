"""tools/list as a client sees it, in both protocol generations: names, annotations (SPEC §9), input
schemas built from the layer's request models, output schemas that the results actually satisfy."""

from __future__ import annotations

import json
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


def test_the_tools_are_listed(tools: dict[str, Tool]) -> None:
    assert set(tools) == {"whoami", "send_meta_conversions", "meta_send_conversion_event",
                          "get_writeback_audit", "get_match_quality"}
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
    event = tools["meta_send_conversion_event"].annotations
    assert event is not None
    assert (event.read_only_hint, event.destructive_hint, event.idempotent_hint, event.open_world_hint) == (
        False, True, True, True)
    whoami = tools["whoami"].annotations
    assert whoami is not None and whoami.read_only_hint is True and whoami.destructive_hint is False


def test_send_schema_is_the_selection_of_the_http_api(tools: dict[str, Tool]) -> None:
    schema: dict[str, Any] = tools["send_meta_conversions"].input_schema
    assert schema["required"] == ["mode"] and schema["additionalProperties"] is False  # one profile: optional
    assert "exactly one profile" in schema["properties"]["profile_id"]["description"]
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


# SPEC §8's table: the seed's input schema of meta_send_conversion_event.
EVENT_FIELDS = {"pixel_id", "event_name", "event_time", "action_source", "user_data", "custom_data",
                "event_source_url", "event_id", "app_data", "messaging_channel", "data_processing_options",
                "data_processing_options_country", "data_processing_options_state", "test_event_code",
                "response_format"}
ACTION_SOURCES = ["website", "app", "email", "phone_call", "chat", "physical_store", "system_generated",
                  "business_messaging", "other"]


def test_event_schema_is_exactly_the_seeds(tools: dict[str, Tool]) -> None:
    schema: dict[str, Any] = tools["meta_send_conversion_event"].input_schema
    properties = schema["properties"]
    assert set(properties) == EVENT_FIELDS and schema["additionalProperties"] is False
    assert schema["required"] == ["pixel_id", "event_name", "event_time", "user_data", "action_source"]
    assert sorted(properties["action_source"]["enum"]) == sorted(ACTION_SOURCES)
    assert properties["action_source"]["type"] == "string"
    assert properties["response_format"]["enum"] == ["markdown", "json"]
    assert properties["response_format"]["default"] == "markdown"
    assert properties["messaging_channel"]["enum"] == ["whatsapp", "messenger", "instagram"]
    kinds = {name: prop.get("type") for name, prop in properties.items()}
    texts = ("pixel_id", "event_name", "event_source_url", "event_id", "test_event_code")
    assert {k: kinds[k] for k in texts} == dict.fromkeys(texts, "string")
    assert {k: kinds[k] for k in ("user_data", "custom_data", "app_data")} == dict.fromkeys(
        ("user_data", "custom_data", "app_data"), "object")
    assert kinds["data_processing_options"] == "array"
    assert kinds["data_processing_options_country"] == kinds["data_processing_options_state"] == "integer"
    assert [v["type"] for v in properties["event_time"]["anyOf"]] == ["integer", "string"]  # s, ms or ISO
    assert not any("null" in json.dumps(prop) for prop in properties.values())  # left out, never null


def test_whoami_takes_no_arguments(tools: dict[str, Tool]) -> None:
    assert tools["whoami"].input_schema == {"type": "object", "properties": {}, "additionalProperties": False}
