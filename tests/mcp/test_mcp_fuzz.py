"""Fuzzing the tools' arguments over real Streamable HTTP: hypothesis draws them from the published input
schemas (and from arbitrary JSON), and every answer must be a result or a SPEC §3.3 refusal: zero
internal errors, zero transport errors, every success valid against the tool's outputSchema."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from capi_writeback_local.local_api import LocalApi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from mcp_support import PIXEL_ID, conversion_rows, http_json
from schema_strategies import from_schema

pytestmark = pytest.mark.timeout(600)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


class Session:
    """One connected client for the whole module, driven from synchronous hypothesis tests."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal, self.client = portal, client
        tools = portal.call(client.list_tools).tools
        self.schemas = {t.name: (t.input_schema, t.output_schema) for t in tools}

    def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        result: CallToolResult = self.portal.call(self.client.call_tool, name, arguments)
        return result


@contextlib.asynccontextmanager
async def _connected(url: str, token: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@pytest.fixture(scope="module")
def session(api: LocalApi) -> Iterator[tuple[Session, str]]:
    seed = api.stack.seed_demo(pixel_id=PIXEL_ID, meta_token=api.meta_token, workspace_id="ws_fuzz",
                               user_id="owner_fuzz", profile_id="prof_fuzz")
    status, _ = http_json("POST", f"{api.url}/v1/profiles/prof_fuzz/conversions", seed.api_token,
                          {"rows": conversion_rows("fuzz", 3)})
    assert status == 200
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
            _connected(api.url + "/v1/mcp", seed.api_token)) as client:
        yield Session(portal, client), seed.profile_id


def _check(session: Session, name: str, result: CallToolResult) -> None:
    if result.is_error:
        body = result.structured_content
        assert isinstance(body, dict) and set(body) == {"error"}, result
        error = body["error"]
        assert error["type"] != "INTERNAL", error
        assert error["message"] and error["fix"] and error["request_id"]
    else:
        output_schema = session.schemas[name][1]
        assert output_schema is not None
        errors = list(Draft202012Validator(output_schema).iter_errors(result.structured_content))
        assert not errors, errors[0]


def _arguments(schema: dict[str, Any], profile_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid arguments; the profile (or its pixel) is often the real one, so calls get past
    PROFILE_NOT_FOUND."""
    drawn = from_schema(schema)
    real = {k: v for k, v in (("profile_id", profile_id), ("pixel_id", PIXEL_ID))
            if k in schema["properties"]}
    return st.tuples(drawn, st.booleans()).map(lambda pair: {**pair[0], **real} if pair[1] else pair[0])


TOOLS = ["whoami", "send_meta_conversions", "meta_send_conversion_event", "get_writeback_audit"]


@pytest.mark.parametrize("name", TOOLS)
def test_schema_valid_arguments_never_cause_an_internal_error(session: tuple[Session, str],
                                                              name: str) -> None:
    client, profile_id = session

    @FUZZ
    @given(arguments=_arguments(client.schemas[name][0], profile_id))
    def run(arguments: dict[str, Any]) -> None:
        _check(client, name, client.call(name, arguments))

    run()


JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
                    | st.text(max_size=30), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)


@pytest.mark.parametrize("name", TOOLS)
def test_arbitrary_arguments_are_refused_not_crashed(session: tuple[Session, str], name: str) -> None:
    client, profile_id = session
    known = sorted(client.schemas[name][0]["properties"])
    keys = (st.sampled_from(known) if known else st.nothing()) | st.text(max_size=12)
    values = JSON | st.sampled_from(["preview", "dry_run", "confirm", profile_id, 7, "pv_" + "a" * 32])

    @FUZZ
    @given(arguments=st.dictionaries(keys, values, max_size=6))
    def run(arguments: dict[str, Any]) -> None:
        _check(client, name, client.call(name, arguments))

    run()
