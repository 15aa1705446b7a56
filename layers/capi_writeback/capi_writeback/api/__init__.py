"""The HTTP API: routes, error shaping at the boundary, the OpenAPI document (models: `contracts`)."""
