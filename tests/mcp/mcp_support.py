"""Helpers of the MCP end-to-end tests (this folder is not a package: `mcp` would shadow the SDK).

`Mcp` opens the official `mcp` client per call over Streamable HTTP, in the current protocol ("auto"
negotiates 2026-07-28) or as an older client (`mode="legacy"`).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, Tool

PIXEL_ID = "4455667788"
MODES = ("auto", "legacy")
MODERN = "2026-07-28"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


def fresh_layer_state() -> None:
    """The layer caches clients, secrets and services per process: forget them around a stack."""
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import set_default_services

    store.reset_client()
    set_default_services(None)
    parameters.clear_caches()


class Mcp:
    """A synchronous face on the official client: each call connects, calls and disconnects."""

    def __init__(self, url: str, token: str | None, mode: str = "auto") -> None:
        self.url, self.token, self.mode = url, token, mode
        self.protocol_version: str | None = None

    async def _run(self, tool: str | None, arguments: dict[str, Any] | None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, Client(
                streamable_http_client(self.url, http_client=http), mode=self.mode) as client:
            self.protocol_version = client.protocol_version
            if tool is None:
                return (await client.list_tools()).tools
            return await client.call_tool(tool, arguments or {})

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        result: CallToolResult = asyncio.run(self._run(tool, arguments))
        return result

    def list_tools(self) -> list[Tool]:
        tools: list[Tool] = asyncio.run(self._run(None, None))
        return tools


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def refusal_of(result: CallToolResult) -> dict[str, Any]:
    """The SPEC §3.3 error of an isError result (asserting its shape)."""
    assert result.is_error is True, result
    body = result.structured_content
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"type", "message", "fix", "request_id"} <= set(error), error
    assert error["message"] and error["fix"] and error["request_id"]
    text = text_of(result)
    assert error["type"] in text and error["fix"] in text  # the assistant can read what to do
    return error


def http_json(method: str, url: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    """A plain HTTP API call (to compare the MCP results with)."""
    request = urllib.request.Request(url, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _opener.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def conversion_rows(prefix: str, count: int) -> list[dict[str, Any]]:
    """Sendable purchases (one lacking a value, so one row is skipped with a reason)."""
    now = int(time.time())
    rows: list[dict[str, Any]] = [
        {"conversion_id": f"{prefix}-{i}", "outcome_type": "payment_received", "occurred_at": now - 900 - i,
         "email": f"buyer{i}@example.com", "phone": f"(415) 555-01{i:02d}",
         "client_ip_address": "203.0.113.9", "client_user_agent": "Mozilla/5.0", "value": 10 + i,
         "currency": "USD"} for i in range(count)]
    rows.append({"conversion_id": f"{prefix}-novalue", "outcome_type": "payment_received",
                 "occurred_at": now - 60, "email": "novalue@example.com"})
    return rows
