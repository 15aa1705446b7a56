"""Whatever a caller sends to the sync routes, the answer is a success or a typed 4xx (never a 500 or
a trace); whatever a mapping or an export holds, validating and applying it never raises."""

from __future__ import annotations

from typing import Any

from capi_writeback.errors import ERRORS
from capi_writeback.reading import InvalidRow
from capi_writeback.syncs.mapping import SyncMapping, problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import MAPPING, World

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "email",
        "em",
        "event_time",
        "occurred_at",
        "event_name",
        "value",
        "conversion_id",
        "action_source",
        "nope",
        "Event Name",
        "ph",
        "",
    ]
) | st.text(max_size=10)
specs = (
    st.fixed_dictionaries({"column": st.text(max_size=8)})
    | st.fixed_dictionaries({"value": scalars})
    | json_values
)
mappings = st.dictionaries(keys, specs, max_size=6)
sources = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["s3", "athena", "ftp"]),
        "uri": st.text(max_size=30) | st.just("s3://capi-writeback-sync-export/x/"),
        "format": st.sampled_from(["csv", "jsonl", "parquet"]),
    }
)
bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "name": json_values,
            "source": sources | json_values,
            "mapping": mappings | json_values,
            "primary_key": json_values,
            "schedule": st.sampled_from(["rate(15 minutes)", "rate(1 minutes)", "x"]) | scalars,
            "mode": st.sampled_from(["dry_run", "live", "other"]),
            "test_event_code": scalars,
            "enabled": scalars,
            "extra": scalars,
        },
    )
    | json_values
)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _typed(answer: Any, ok: set[int]) -> None:
    if answer.status in ok:
        return
    assert 400 <= answer.status < 500, answer.body
    assert answer.error_type in ERRORS and ERRORS[answer.error_type].status == answer.status, answer.body
    assert answer.body["error"]["fix"]


@FAST
@given(body=bodies)
def test_any_create_body_is_created_or_a_typed_refusal(world: World, body: Any) -> None:
    tenant = getattr(test_any_create_body_is_created_or_a_typed_refusal, "tenant", None) or world.tenant()
    test_any_create_body_is_created_or_a_typed_refusal.tenant = tenant  # type: ignore[attr-defined]
    _typed(tenant.call("POST", "/syncs", body), {201})


@FAST
@given(body=bodies)
def test_any_change_is_saved_or_a_typed_refusal(world: World, body: Any) -> None:
    state = test_any_change_is_saved_or_a_typed_refusal
    if not hasattr(state, "sync"):
        tenant = world.tenant()
        state.sync = (tenant, tenant.create()["sync_id"])  # type: ignore[attr-defined]
    tenant, sync_id = state.sync  # type: ignore[attr-defined]
    _typed(tenant.call("PATCH", f"/syncs/{sync_id}", body), {200})


@FAST
@given(
    limit=st.text(max_size=6),
    cursor=st.text(max_size=40),
    outcome=st.text(max_size=8),
    run_id=st.sampled_from(["run_20261124T120000Z_1a2b3c4d", "nope", "run_x"]),
)
def test_any_query_of_runs_is_answered_or_a_typed_refusal(
    world: World, limit: str, cursor: str, outcome: str, run_id: str
) -> None:
    state = test_any_query_of_runs_is_answered_or_a_typed_refusal
    if not hasattr(state, "sync"):
        tenant = world.tenant()
        state.sync = (tenant, tenant.create()["sync_id"])  # type: ignore[attr-defined]
    tenant, sync_id = state.sync  # type: ignore[attr-defined]
    _typed(tenant.call("GET", f"/syncs/{sync_id}/runs", query={"limit": limit, "next": cursor}), {200})
    _typed(
        tenant.call(
            "GET", f"/syncs/{sync_id}/runs/{run_id}/rows", query={"outcome": outcome, "next": cursor}
        ),
        {200},
    )


@settings(max_examples=200, deadline=None)
@given(mapping=mappings | json_values, primary_key=json_values)
def test_validating_any_mapping_names_problems_and_never_raises(mapping: Any, primary_key: Any) -> None:
    found = problems(mapping, primary_key)
    assert all(set(p) == {"field", "message"} and p["message"] for p in found)
    if mapping == MAPPING and primary_key == "order_id":
        assert found == []


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.dictionaries(st.text(max_size=10), json_values, max_size=6) | st.builds(InvalidRow, st.text()),
        max_size=8,
    )
)
def test_applying_a_mapping_to_any_rows_keeps_their_count_and_never_raises(rows: list[Any]) -> None:
    mapping = SyncMapping.of(MAPPING, "order_id")
    out = list(mapping.rows(rows))
    assert len(out) == len(rows)
    for raw, mapped in zip(rows, out, strict=True):
        assert isinstance(mapped, InvalidRow) == isinstance(raw, InvalidRow)
        if isinstance(mapped, dict):
            assert set(mapped) <= {
                "conversion_id",
                "event_name",
                "occurred_at",
                "email",
                "value",
                "currency",
                "client_ip_address",
                "action_source",
            }
