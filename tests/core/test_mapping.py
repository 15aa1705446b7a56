"""Outcome -> event table and custom event name rules (SPEC §4)."""

from __future__ import annotations

import pytest
from capi_writeback.mapping import (
    DEFAULT_EVENT_MAPPING,
    EventNameError,
    canonical_event_name,
    custom_name_problem,
    event_table,
    resolve_event_name,
)


@pytest.mark.parametrize(("outcome", "event"), [
    ("payment_received", "Purchase"), ("order_placed", "Purchase"), ("closed_won", "Purchase"),
    ("appointment_booked", "Schedule"), ("lead_created", "Lead"), ("checkout_started", "InitiateCheckout"),
    ("add_to_cart", "AddToCart"), ("add_payment_info", "AddPaymentInfo"), ("view_content", "ViewContent"),
    ("search", "Search"), ("Payment Received", "Purchase"), ("lead-created", "Lead"),
])
def test_default_table(outcome: str, event: str) -> None:
    assert resolve_event_name(None, outcome, event_table()) == event


def test_default_table_is_exactly_the_spec() -> None:
    assert len(DEFAULT_EVENT_MAPPING) == 10


def test_profile_mapping_extends_and_overrides() -> None:
    table = event_table({"Trial Started": "StartTrial", "lead_created": "qualified_lead"})
    assert resolve_event_name(None, "trial_started", table) == "StartTrial"
    assert resolve_event_name(None, "lead_created", table) == "qualified_lead"
    assert resolve_event_name(None, "payment_received", table) == "Purchase"


def test_profile_mapping_to_an_invalid_name_is_an_invalid_event_name() -> None:
    with pytest.raises(EventNameError) as info:
        resolve_event_name(None, "x", event_table({"x": "Bad Name"}))
    assert not info.value.unknown_outcome


def test_unknown_or_missing_outcome() -> None:
    for outcome in ("refund_issued", None, ""):
        with pytest.raises(EventNameError) as info:
            resolve_event_name(None, outcome, event_table())
        assert info.value.unknown_outcome


def test_event_name_wins_over_outcome_type() -> None:
    assert resolve_event_name("Lead", "payment_received", event_table()) == "Lead"


@pytest.mark.parametrize(("name", "expected"), [
    ("Purchase", "Purchase"), ("purchase", "Purchase"), ("INITIATECHECKOUT", "InitiateCheckout"),
    ("PageView", "PageView"), ("qualified_demo", "qualified_demo"), ("_private", "_private"),
    ("a" * 40, "a" * 40), (" trial_2 ", "trial_2"),
])
def test_valid_names(name: str, expected: str) -> None:
    assert canonical_event_name(name) == expected


@pytest.mark.parametrize(("name", "why"), [
    ("a" * 41, "40 characters"), ("fb_custom", "fb_"), ("_fbthing", "_fb"), ("2fast", "digit"),
    ("Qualified", "lowercase"), ("has space", "lowercase"), ("dash-name", "lowercase"), ("émoi", "lowercase"),
])
def test_invalid_custom_names(name: str, why: str) -> None:
    problem = custom_name_problem(name)
    assert problem is not None and why in problem
    with pytest.raises(EventNameError):
        canonical_event_name(name)


def test_standard_names_are_not_custom_names() -> None:
    problem = custom_name_problem("purchase")
    assert problem is not None and "standard event name" in problem and "purchase" not in problem
