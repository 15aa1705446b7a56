"""capi_writeback: the shared Lambda layer (mapping, normalization, hashing, validation, scoring,
Meta client, safety rails and the preview/dry-run/confirm flow)."""

__version__ = "0.1.0"
