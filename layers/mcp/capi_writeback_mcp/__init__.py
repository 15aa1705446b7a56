"""The MCP server of capi-writeback (SPEC §9): Streamable HTTP at POST /v1/mcp, in its own Lambda
and layer so that the other functions' cold starts do not pay for the MCP SDK.

transport.py  the Lambda handler: per-invocation ASGI app (SDK Starlette app via Mangum), Host/Origin
tools.py      the tools and the MCPServer; arguments.py: validation and published schemas;
results.py    structured content + markdown, and the one refusal shape; markdown.py: the text blocks;
layer.py      every import of the shared `capi_writeback` layer.
"""
