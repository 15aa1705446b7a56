"""The MCP server end to end: the official `mcp` client over Streamable HTTP against the local API.

`api` is what `capi-writeback serve` runs (embedded AWS, the Meta emulator, the API Gateway stand-in
reading routes and the authorizer from template.yaml, real HTTP on 127.0.0.1), started in this process
so the tests can read the emulator's ledger and seed the stack. Helpers are in mcp_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from capi_writeback_local.local_api import LocalApi
from mcp_support import PIXEL_ID, fresh_layer_state


@pytest.fixture(scope="module")
def api() -> Iterator[LocalApi]:
    fresh_layer_state()
    with LocalApi(port=0, pixel_id=PIXEL_ID) as running:
        yield running
    fresh_layer_state()
