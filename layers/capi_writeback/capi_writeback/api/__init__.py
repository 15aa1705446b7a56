"""The HTTP API: pydantic models (the single source of the OpenAPI document), error shaping, routes."""
