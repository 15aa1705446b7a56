"""Meta's limits and vocabularies that more than one module enforces, defined once (CAPI-REFERENCE
§1.6, §2): the event pipeline checks them, the request models publish them (no import cost here)."""

from __future__ import annotations

MAX_BATCH_EVENTS = 1000
"""Meta accepts at most 1,000 events per request; a larger request is refused whole."""

ACTION_SOURCES: tuple[str, ...] = (
    "website", "app", "email", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
)
"""Meta's action_source values (CAPI-REFERENCE §2)."""

MESSAGING_CHANNEL_NAMES: tuple[str, ...] = ("whatsapp", "messenger", "instagram")
"""The messaging_channel of a business_messaging event (CAPI-REFERENCE §12)."""
