"""Shared fixtures for the core pipeline tests: a fixed clock and a row factory."""

from __future__ import annotations

from typing import Any

import pytest

NOW = 1763900000  # 2025-11-23T12:13:20Z: the clock every core test builds against


def make_row(**overrides: Any) -> dict[str, Any]:
    """A row that builds into a valid Purchase event; override or remove (None) any key."""
    row: dict[str, Any] = {
        "conversion_id": "ord-1",
        "outcome_type": "payment_received",
        "occurred_at": NOW - 3600,
        "email": "john_smith@gmail.com",
        "value": "19.99",
        "currency": "USD",
    }
    for key, value in overrides.items():
        if value is None:
            row.pop(key, None)
        else:
            row[key] = value
    return row


@pytest.fixture
def row() -> dict[str, Any]:
    return make_row()
