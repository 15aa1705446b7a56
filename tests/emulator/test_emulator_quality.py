"""The dataset_quality approximation as a pure function (quality.py): its documented edges."""

from __future__ import annotations

from typing import Any

import pytest
from capi_writeback_local.meta_emulator.quality import (
    IDENTIFIERS,
    WEIGHTS,
    ReceivedBatch,
    dataset_quality,
    normalize_agent,
    parse_fields,
)

NOW = 1_790_000_000.0


def web(delay: float = 0.0, **user_data: Any) -> dict[str, Any]:
    return {"event_name": "Purchase", "action_source": "website", "event_time": NOW - delay,
            "user_data": user_data}


def rows(*events: dict[str, Any], agent: str | None = None) -> list[dict[str, Any]]:
    answer = dataset_quality([ReceivedBatch(NOW, agent, list(events))], now=NOW)
    return answer["web"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("delay", "frequency"), [
    (0, "real_time"), (600, "real_time"), (601, "hourly"), (5400, "hourly"), (5401, "daily"),
    (36 * 3600, "daily"), (36 * 3600 + 1, "weekly"), (6 * 86400, "weekly"),
])
def test_freshness_from_the_median_delay(delay: float, frequency: str) -> None:
    (row,) = rows(web(delay, em="a"), web(delay, em="b"), web(0, em="c"))  # the median, not the mean
    assert row["data_freshness"]["upload_frequency"] == frequency


def test_score_is_capped_at_ten_and_every_weighted_key_has_a_meta_name() -> None:
    everything = {key: "x" for key in WEIGHTS}
    (row,) = rows(web(**everything))
    assert row["event_match_quality"]["composite_score"] == 10.0
    assert set(WEIGHTS) == set(IDENTIFIERS)
    names = {f["identifier"] for f in row["event_match_quality"]["match_key_feedback"]}
    assert names == set(IDENTIFIERS.values())


def test_empty_values_are_not_keys_and_unknown_keys_weigh_nothing() -> None:
    (row,) = rows(web(em="a", ph="", fn=None, ln=[], lead_id="123"))
    quality = row["event_match_quality"]
    assert quality["composite_score"] == 4.0
    assert {f["identifier"] for f in quality["match_key_feedback"]} == {"email", "lead_id"}


@pytest.mark.parametrize(("sent", "normalized"), [
    ("capiwriteback", "capiwriteback"), ("CapiWriteback_1_2", "capiwriteback"), ("acme_2", "acme"),
    (" Acme-Tool ", "acme-tool"), ("stape-gtmss-2.1.3", "stape-gtmss-2.1.3"), ("my_tool_v2", "my_tool_v2"),
])
def test_agent_names_are_normalized_like_meta_describes(sent: str, normalized: str) -> None:
    assert normalize_agent(sent) == normalized


def test_field_expansion_parses_nested_lists() -> None:
    tree = parse_fields("web{event_name, event_match_quality{composite_score,match_key_feedback{id}}}")
    assert tree == {"web": {"event_name": None, "event_match_quality": {
        "composite_score": None, "match_key_feedback": {"id": None}}}}
