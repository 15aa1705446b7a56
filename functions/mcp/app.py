"""POST /v1/mcp: the MCP server (SPEC §9), Streamable HTTP, stateless, JSON responses."""

from capi_writeback_mcp import transport

lambda_handler = transport.lambda_handler
