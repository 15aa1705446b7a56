"""Which Meta event a row becomes: the outcome_type -> event table (SPEC §4), extendable per
profile, and the rules a custom event name must follow."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Meta's standard events (CAPI-REFERENCE §7), plus PageView.
STANDARD_EVENTS = frozenset({
    "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact",
    "CustomizeProduct", "Donate", "FindLocation", "InitiateCheckout", "Lead", "PageView", "Purchase",
    "Schedule", "Search", "StartTrial", "SubmitApplication", "Subscribe", "ViewContent",
})
_STANDARD_BY_LOWER = {name.lower(): name for name in STANDARD_EVENTS}

DEFAULT_EVENT_MAPPING: Mapping[str, str] = {
    "payment_received": "Purchase",
    "order_placed": "Purchase",
    "closed_won": "Purchase",
    "appointment_booked": "Schedule",
    "lead_created": "Lead",
    "checkout_started": "InitiateCheckout",
    "add_to_cart": "AddToCart",
    "add_payment_info": "AddPaymentInfo",
    "view_content": "ViewContent",
    "search": "Search",
}

_CUSTOM_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")


class EventNameError(ValueError):
    """A row's event cannot be named: `unknown_outcome` tells which skip reason applies."""

    def __init__(self, message: str, *, unknown_outcome: bool) -> None:
        super().__init__(message)
        self.unknown_outcome = unknown_outcome


def outcome_key(outcome_type: str) -> str:
    """Outcome types compare case-insensitively, with spaces and dashes as underscores."""
    return outcome_type.strip().lower().replace(" ", "_").replace("-", "_")


def custom_name_problem(name: str) -> str | None:
    """Why `name` is not a valid custom event name (SPEC §4), or None if it is."""
    if name.lower() in _STANDARD_BY_LOWER:
        return "a standard event name is not a custom one (write it as Meta spells it)"
    if len(name) > 40:
        return "custom event names have at most 40 characters"
    if name.startswith("fb_") or name.startswith("_fb"):
        return "custom event names must not start with 'fb_' or '_fb'"
    if _CUSTOM_NAME.fullmatch(name) is None:
        return ("custom event names use lowercase letters, digits and underscores and do not start "
                "with a digit")
    return None


def canonical_event_name(name: str) -> str:
    """A standard event in any case -> its canonical spelling; a valid custom name -> itself.

    Raises EventNameError for anything else."""
    text = name.strip()
    standard = _STANDARD_BY_LOWER.get(text.lower())
    if standard is not None:
        return standard
    problem = custom_name_problem(text)
    if problem is not None:
        raise EventNameError(f"event_name is invalid: {problem}", unknown_outcome=False)
    return text


class EventTable(dict[str, str]):
    """outcome_type key -> event name, remembering what each (event_name, outcome_type) pair of a
    build resolved to: a few distinct pairs repeat over thousands of rows."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        super().__init__(mapping)
        self.resolved: dict[tuple[str | None, str | None], str | EventNameError] = {}


def event_table(profile_mapping: Mapping[str, str] | None = None) -> EventTable:
    """The defaults extended (and overridden) by a profile's outcome_type -> event mapping."""
    table = dict(DEFAULT_EVENT_MAPPING)
    for outcome, name in (profile_mapping or {}).items():
        table[outcome_key(outcome)] = name
    return EventTable(table)


def resolve_event_name(
    event_name: str | None, outcome_type: str | None, table: Mapping[str, str]
) -> str:
    """The Meta event name for a row: its own `event_name` if given, else its outcome_type looked up
    in `table` (from `event_table`). Raises EventNameError."""
    memo = table.resolved if isinstance(table, EventTable) else None
    if memo is not None:
        found = memo.get((event_name, outcome_type))
        if found is None:
            try:
                found = _resolve(event_name, outcome_type, table)
            except EventNameError as exc:
                found = exc
            if len(memo) < 1024:
                memo[(event_name, outcome_type)] = found
        if isinstance(found, EventNameError):
            raise EventNameError(str(found), unknown_outcome=found.unknown_outcome)
        return found
    return _resolve(event_name, outcome_type, table)


def _resolve(event_name: str | None, outcome_type: str | None, table: Mapping[str, str]) -> str:
    if event_name:
        return canonical_event_name(event_name)
    if not outcome_type:
        raise EventNameError("the row has neither outcome_type nor event_name", unknown_outcome=True)
    mapped = table.get(outcome_key(outcome_type))
    if mapped is None:
        raise EventNameError("outcome_type is not in the default outcome mapping or the profile's "
                             "event_mapping", unknown_outcome=True)
    return canonical_event_name(mapped)
