"""A sync's mapping and schedule, checked on save: every problem named; applied to export rows."""

from __future__ import annotations

from typing import Any

import pytest
from capi_writeback.reading import InvalidRow, read_rows
from capi_writeback.syncs.mapping import SyncMapping, problems
from capi_writeback.syncs.schedule import schedule_problem

GOOD = {"event_name": {"column": "event"}, "event_time": {"column": "ts"}, "em": {"column": "mail"}}


def fields(found: list[dict[str, str]]) -> dict[str, str]:
    return {p["field"]: p["message"] for p in found}


def test_a_valid_mapping_has_no_problems_and_accepts_row_keys_and_capi_synonyms() -> None:
    assert problems(GOOD, "order_id") == []
    spelled = {
        "Event Name": {"column": "e"},
        "occurred_at": {"column": "t"},
        "email": {"column": "m"},
        "ph": {"column": "p"},
        "fn": {"column": "f"},
        "zp": {"column": "z"},
        "value": {"value": 9.5},
    }
    assert problems(spelled, "id") == []


def test_every_problem_is_named_at_once() -> None:
    mapping = {
        "emial": {"column": "mail"},
        "conversion_id": {"column": "id"},
        "action_source": {"value": "carrier_pigeon"},
        "value": {"columns": "amount"},
    }
    found = fields(problems(mapping, ""))
    assert "unknown target 'emial'" in found["mapping.emial"]
    assert "comes from primary_key" in found["mapping.conversion_id"]
    assert "action_source is not one of" in found["mapping.action_source.value"]
    assert "carrier_pigeon" not in found["mapping.action_source.value"]  # named, not echoed (SPEC §3.3)
    assert "must be" in found["mapping.value"]
    assert "required" in found["primary_key"]
    assert "required" in found["mapping.occurred_at"]  # required keys unmapped are named too
    assert "required" in found["mapping.event_name"]
    assert "no customer identifier" in found["mapping"]


def test_two_spellings_of_one_key_are_refused() -> None:
    found = fields(problems({**GOOD, "email": {"column": "other_mail"}}, "id"))
    assert "both mean 'email'" in found["mapping.email"]


@pytest.mark.parametrize(
    ("extra", "field", "text"),
    [
        ({"action_source": {"value": "website"}}, "mapping.event_source_url", "website"),
        ({"action_source": {"value": "website"}}, "mapping.client_user_agent", "website"),
        ({"event_name": {"value": "Purchase"}}, "mapping.value", "Purchase"),
        ({"event_name": {"value": "fb_custom"}}, "mapping.event_name.value", "fb_"),
        (
            {"outcome_type": {"value": "signed_up"}, "event_name": None},
            "mapping.outcome_type.value",
            "not in the default outcome mapping",
        ),
    ],
)
def test_constants_are_checked_with_what_they_require(extra: dict[str, Any], field: str, text: str) -> None:
    mapping = {**GOOD, **{k: v for k, v in extra.items() if v is not None}}
    for key in [k for k, v in extra.items() if v is None]:
        mapping.pop(key)
    assert text in fields(problems(mapping, "id"))[field]


def test_a_profile_outcome_mapping_makes_its_outcome_a_valid_constant() -> None:
    mapping = {**{k: v for k, v in GOOD.items() if k != "event_name"}, "outcome_type": {"value": "signed_up"}}
    assert problems(mapping, "id", {"signed_up": "CompleteRegistration"}) == []
    assert problems(mapping, "id")  # not without it


def test_rows_take_the_mapped_columns_the_primary_key_and_constants_only() -> None:
    mapping = SyncMapping.of({**GOOD, "action_source": {"value": "system_generated"}}, "order_id")
    raw = [
        {
            "order_id": "o-1",
            "event": "Lead",
            "ts": "1700000000",
            "mail": "a@b.co",
            "email": "x@y.z",
            "secret_notes": "never sent",
        }
    ]
    (row,) = list(mapping.rows(raw))
    assert row == {
        "conversion_id": "o-1",
        "event_name": "Lead",
        "occurred_at": "1700000000",
        "email": "a@b.co",
        "action_source": "system_generated",
    }
    assert "email" in mapping.notes.warnings()[0] and "secret_notes" in mapping.notes.warnings()[0]


def test_columns_are_found_in_any_case_and_missing_ones_are_reported() -> None:
    mapping = SyncMapping.of({**GOOD, "ph": {"column": "phone_number"}}, "order_id")
    (row,) = list(mapping.rows([{"ORDER_ID": "o-1", "EVENT": "Lead", "TS": 1700000000, "MAIL": "a@b.co"}]))
    assert row["conversion_id"] == "o-1" and row["email"] == "a@b.co" and "phone" not in row
    assert mapping.notes.warnings() == ["mapped column(s) not in the export: phone_number"]


def test_unreadable_rows_keep_their_place() -> None:
    mapping = SyncMapping.of(GOOD, "id")
    source = b'{"id": "1", "event": "Lead", "ts": 1, "mail": "a@b.co"}\nnot json\n[1]\n'
    out = list(mapping.rows(read_rows(source, "jsonl")))
    assert isinstance(out[1], InvalidRow) and isinstance(out[2], InvalidRow)
    assert isinstance(out[0], dict) and out[0]["conversion_id"] == "1"


def test_the_csv_header_check_knows_the_mapped_columns() -> None:
    mapping = SyncMapping.of(GOOD, "id")
    rows = list(
        read_rows(b"id,event,ts,mail\n1,Lead,1,a@b.co\n", "csv", column_mapping=mapping.header_columns())
    )
    assert rows == [{"id": "1", "event": "Lead", "ts": "1", "mail": "a@b.co"}]


@pytest.mark.parametrize(
    "expression",
    [
        "rate(5 minutes)",
        "rate(15 minutes)",
        "rate(1 hour)",
        "rate(2 hours)",
        "rate(1 day)",
        "cron(0/30 * * * ? *)",
        "cron(15 6 ? * MON-FRI *)",
        "cron(0 2 1 * ? *)",
    ],
)
def test_schedule_expressions_scheduler_accepts(expression: str) -> None:
    assert schedule_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("rate(1 minutes)", "singular"),
        ("rate(2 hour)", "plural"),
        ("rate(1 minute)", "5 minutes apart"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(fifteen minutes)", "rate(<number>"),
        ("every 15 minutes", "rate("),
        ("cron(0/30 * * * *)", "six fields"),
        ("cron(0 * * * * *)", "exactly one"),
        ("cron(* * ? * * *)", "apart"),
        ("cron(0 2 1 * ? *;)", "digits"),
        (" rate(5 minutes)", "blanks"),
    ],
)
def test_schedule_expressions_are_refused_with_the_reason(expression: str, text: str) -> None:
    problem = schedule_problem(expression)
    assert problem is not None and text in problem
