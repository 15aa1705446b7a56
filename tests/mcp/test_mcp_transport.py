"""The Lambda handler itself, with API Gateway events (no AWS needed for these)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from capi_writeback_local.lambda_runtime import FunctionPool, LambdaContext

EVENT = Path(__file__).resolve().parents[2] / "events" / "mcp.json"


def _invoke(event: Any) -> dict[str, Any]:
    result: dict[str, Any] = FunctionPool().invoke("mcp", event, LambdaContext("mcp", "us-east-1", "1"))
    return result


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    event.update(changes)
    return event


def test_tools_list_twice_in_one_container() -> None:
    """The SDK's session manager runs once per app: the app is rebuilt on every invocation."""
    pool = FunctionPool()
    meta = json.loads(_event()["body"])["params"]["_meta"]
    request = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": meta}}
    event = _event(body=json.dumps(request))
    event["headers"] = {k: v for k, v in event["headers"].items() if k not in ("Mcp-Method", "Mcp-Name")}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["headers"]["Mcp-Method"] = "tools/list"
    event["multiValueHeaders"]["Mcp-Method"] = ["tools/list"]
    for _ in range(2):
        result = pool.invoke("mcp", event, LambdaContext("mcp", "us-east-1", "1"))
        assert result["statusCode"] == 200, result
        names = {t["name"] for t in json.loads(result["body"])["result"]["tools"]}
        assert names == {"whoami", "send_meta_conversions", "meta_send_conversion_event",
                         "get_writeback_audit", "get_match_quality"}


def test_without_the_gateway_domain_every_host_is_refused() -> None:
    event = _event()
    del event["requestContext"]["domainName"]
    result = _invoke(event)
    assert result["statusCode"] == 421 and result["isBase64Encoded"] is False
    assert result["headers"]["content-type"].startswith("text/plain")


@pytest.mark.parametrize("event", [{}, {"resource": "/v1/mcp", "requestContext": {}}, [], "nonsense"])
def test_an_unusable_event_is_a_spec_internal_error_not_a_trace(event: Any) -> None:
    result = _invoke(event)
    assert result["statusCode"] == 500
    body = json.loads(result["body"])
    assert body["error"]["type"] == "INTERNAL" and "Traceback" not in result["body"]
