"""Per-profile defaults that shape how rows become events (SPEC §2, PROFILES_TABLE `settings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProfileSettings:
    """Defaults a profile applies to rows that do not say otherwise.

    `event_mapping` extends the default outcome_type -> event name table (mapping.py);
    `column_mapping` renames source columns to canonical row keys before anything else (rows.py).
    """

    action_source: str = "system_generated"
    country: str | None = None
    currency: str | None = None
    event_mapping: Mapping[str, str] = field(default_factory=dict)
    column_mapping: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ProfileSettings:
        """Build from the stored `settings` map, ignoring unknown keys and tolerating nulls."""
        data = data or {}
        return cls(
            action_source=str(data.get("action_source") or "system_generated"),
            country=_opt_str(data.get("country")),
            currency=_opt_str(data.get("currency")),
            event_mapping=_str_map(data.get("event_mapping")),
            column_mapping=_str_map(data.get("column_mapping")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form stored in PROFILES_TABLE."""
        return {
            "action_source": self.action_source,
            "country": self.country,
            "currency": self.currency,
            "event_mapping": dict(self.event_mapping),
            "column_mapping": dict(self.column_mapping),
        }


def _str_map(value: Any) -> dict[str, str]:
    """A stored mapping as str → str; anything but a map (a hand-edited item...) counts as none."""
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
