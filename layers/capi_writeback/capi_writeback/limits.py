"""Limits and vocabularies enforced in more than one place, defined once: Meta's (CAPI-REFERENCE §1.6,
§2, §4) and the sanity bounds this service puts on what a request may hold. The event pipeline checks
them, the request models publish them (no import cost here).

Numbers: JSON has no size limit on numbers, Python parses any of them, and Meta documents none. A
value past these bounds is treated like an unreadable one (dropped with a warning, or the row
skipped where the value is required), never sent: `10**400` or `1e308` as a purchase value is a
mistake, not a sale.
"""

from __future__ import annotations

MAX_BATCH_EVENTS = 1000
"""Meta accepts at most 1,000 events per request; a larger request is refused whole."""

MAX_JSON_DEPTH = 32
"""How deeply arrays and objects may nest in a request body (the body itself is level 1): deeper
than any request needs (a row's `contents` items are level 5), DynamoDB's own limit for a nested
item, and far from Python's recursion limit, which every recursive step after parsing (validation,
hashing, serialization) would otherwise meet near 1,000. Checked once, when the body is parsed."""

MAX_AMOUNT = 10 ** 15
"""The largest money amount (`value`, `predicted_ltv`, a content's `item_price`): every whole amount
up to it is exact in a 64-bit float, Meta's and every JSON parser's number type, and it exceeds any
real order in any currency (a billion dollars in Vietnamese dong is about 2.5e13)."""

MAX_COUNT = 2 ** 31 - 1
"""The largest count (`num_items`, a content's `quantity`): a 32-bit signed integer, the narrowest
type a receiver may read an integer field into."""

MAX_PROCESSING_OPTION_CODE = 99_999
"""The largest `data_processing_options_country` / `_state`: Meta's codes are 0 and 1 (country) and 0
and 1000-1013 (US states, CAPI-REFERENCE §2); the bound leaves room for new codes."""

MAX_JSON_INTEGER = 2 ** 53 - 1
"""The largest integer copied as given into an event (inside `contents` or `app_data`): beyond it a
JSON integer is no longer exact in a 64-bit float (RFC 8259 §6), so Meta would read another number."""

ACTION_SOURCES: tuple[str, ...] = (
    "website", "app", "email", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
)
"""Meta's action_source values (CAPI-REFERENCE §2)."""

MESSAGING_CHANNEL_NAMES: tuple[str, ...] = ("whatsapp", "messenger", "instagram")
"""The messaging_channel of a business_messaging event (CAPI-REFERENCE §12)."""
