"""The MCP tool get_match_quality (SPEC §11.3) end to end: listed read-only, the same report as
GET /v1/profiles/{profile_id}/quality, refusals typed with a fix."""

from __future__ import annotations

import pytest
from capi_writeback_local.local_api import LocalApi
from jsonschema import Draft202012Validator
from mcp_support import MODES, Mcp, conversion_rows, http_json, refusal_of, text_of

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("mode", MODES)
def test_listed_as_read_only(api: LocalApi, mode: str) -> None:
    tools = {t.name: t for t in Mcp(api.url + "/v1/mcp", api.seed.read_token, mode).list_tools()}
    tool = tools["get_match_quality"]
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert tool.annotations.destructive_hint is False
    assert tool.input_schema["required"] == ["profile_id"]
    assert tool.input_schema["additionalProperties"] is False
    assert tool.output_schema is not None
    Draft202012Validator.check_schema(tool.output_schema)


def test_the_report_of_the_http_route_with_a_readers_token(api: LocalApi) -> None:
    from capi_writeback.flow.admin.quality import clear_cache

    clear_cache()
    base, profile = api.url + "/v1", api.seed.profile_id
    http_json("PATCH", base + "/workspace/settings", api.seed.api_token, {"writeback_enabled": True})
    rows = conversion_rows("q", 3)
    status, confirmed = http_json("POST", f"{base}/profiles/{profile}/writeback/confirm", api.seed.api_token,
                                  {"rows": rows, "idempotency_key": "mcp-quality-1"})
    assert status == 200, confirmed
    result = Mcp(base + "/mcp", api.seed.read_token).call("get_match_quality", {"profile_id": profile})
    assert result.is_error is False, result
    report = result.structured_content
    assert report is not None and report["operation"] == "quality" and report["profile_id"] == profile
    listed = {t.name: t for t in Mcp(base + "/mcp", api.seed.read_token).list_tools()}
    Draft202012Validator(listed["get_match_quality"].output_schema or {}).validate(report)
    assert report["ours"]["pushes"] >= 1 and report["ours"]["events"] >= 3
    status, over_http = http_json("GET", f"{base}/profiles/{profile}/quality", api.seed.read_token)
    assert status == 200
    assert over_http["ours"] == report["ours"] and over_http["meta"]["events"] == report["meta"]["events"]
    text = text_of(result)
    assert "**Match quality**" in text and f"great {report['ours']['match_quality']['great']}" in text


def test_refusals(api: LocalApi) -> None:
    mcp = Mcp(api.url + "/v1/mcp", api.seed.read_token)
    assert refusal_of(mcp.call("get_match_quality", {"profile_id": "nope"}))["type"] == "PROFILE_NOT_FOUND"
    invalid = refusal_of(mcp.call("get_match_quality", {"profile_id": api.seed.profile_id, "extra": 1}))
    assert invalid["type"] == "VALIDATION_ERROR"
    assert refusal_of(mcp.call("get_match_quality", {}))["type"] == "VALIDATION_ERROR"
