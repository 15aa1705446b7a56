"""The conversions and directory stores on both backends: upsert by conversion_id, window queries on
the `by_occurred_at` index (a Query, never a Scan, fully paginated), TTL, and directory reads."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from capi_writeback.rails.clock import ManualClock
from capi_writeback.store.conversions.dynamodb import DynamoConversionStore
from capi_writeback.store.conversions.memory import MemoryConversionStore
from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore
from capi_writeback.store.directory.memory import MemoryDirectoryStore

T0 = 1_780_000_000


def row(cid: str, at: float, outcome: str | None = "payment_received", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"conversion_id": cid, "occurred_at": at, "value": 12.5, "currency": "USD",
                            "em": ["a" * 64], **extra}
    if outcome is not None:
        data["outcome_type"] = outcome
    return data


def rows_of(store: Any, *args: Any) -> list[dict[str, Any]]:
    """A window's rows, collected (the stores stream them)."""
    return list(store.query(*args))


@pytest.fixture(params=["memory", "dynamodb"])
def conversions(request: pytest.FixtureRequest, clock: ManualClock) -> Any:
    if request.param == "memory":
        return MemoryConversionStore(clock=clock)
    request.getfixturevalue("aws")
    return DynamoConversionStore(clock=clock, page_size=7)


@pytest.fixture(params=["memory", "dynamodb"])
def directory(request: pytest.FixtureRequest, clock: ManualClock) -> Any:
    if request.param == "memory":
        return MemoryDirectoryStore(clock=clock)
    request.getfixturevalue("aws")
    return DynamoDirectoryStore(clock=clock)


def test_rows_round_trip_in_time_order(conversions: Any) -> None:
    rows = [row("c3", T0 + 30), row("c1", T0 + 10, content_ids=["sku-1"], num_items=2), row("c2", T0 + 20)]
    assert conversions.put_rows("p1", rows) == 3
    assert rows_of(conversions, "p1", T0, T0 + 100) == [rows[1], rows[2], rows[0]]


def test_storing_a_conversion_id_again_replaces_it(conversions: Any) -> None:
    conversions.put_rows("p1", [row("c1", T0 + 10), row("c2", T0 + 20)])
    newer = row("c1", T0 + 50, value=99.0)
    conversions.put_rows("p1", [newer])
    found = rows_of(conversions, "p1", T0, T0 + 100)
    assert [r["conversion_id"] for r in found] == ["c2", "c1"]
    assert found[1] == newer


def test_repeated_ids_in_one_call_keep_the_last(conversions: Any) -> None:
    assert conversions.put_rows("p1", [row("c1", T0, value=1.0), row("c1", T0, value=2.0)]) == 1
    assert [r["value"] for r in rows_of(conversions, "p1", T0, T0)] == [2.0]


def test_window_is_inclusive_and_per_profile(conversions: Any) -> None:
    conversions.put_rows("p1", [row("early", T0 - 1), row("start", T0), row("end", T0 + 60),
                                row("late", T0 + 61)])
    conversions.put_rows("p2", [row("other", T0 + 5)])
    assert [r["conversion_id"] for r in rows_of(conversions, "p1", T0, T0 + 60)] == ["start", "end"]


def test_outcome_types_filter(conversions: Any) -> None:
    conversions.put_rows("p1", [row("pay", T0 + 1), row("lead", T0 + 2, "lead_created"),
                                row("book", T0 + 3, "appointment_booked"),
                                row("custom", T0 + 4, None, event_name="my_event")])
    assert [r["conversion_id"] for r in rows_of(conversions, "p1", T0, T0 + 10, ["lead_created",
                                                                            "payment_received"])] == \
        ["pay", "lead"]
    assert len(rows_of(conversions, "p1", T0, T0 + 10)) == 4
    assert rows_of(conversions, "p1", T0, T0 + 10, ["search"]) == []


def test_many_rows_over_many_pages(conversions: Any) -> None:
    rows = [row(f"c{i:03d}", T0 + i, "lead_created" if i % 3 == 0 else "payment_received")
            for i in range(120)]
    assert conversions.put_rows("p1", rows) == 120
    assert rows_of(conversions, "p1", T0, T0 + 1000) == rows
    assert rows_of(conversions, "p1", T0, T0 + 1000, ["lead_created"]) == rows[::3]


def test_expired_rows_are_absent(conversions: Any, clock: ManualClock) -> None:
    conversions.put_rows("p1", [row("old", T0)])
    clock.advance(90 * 86400 - 1)
    conversions.put_rows("p1", [row("new", T0 + 1)])
    assert len(rows_of(conversions, "p1", T0, T0 + 10)) == 2
    clock.advance(2)  # "old" passed its TTL (moto never deletes it: the store must hide it)
    assert [r["conversion_id"] for r in rows_of(conversions, "p1", T0, T0 + 10)] == ["new"]


@pytest.mark.parametrize("bad", [{"occurred_at": T0}, {"conversion_id": "", "occurred_at": T0},
                                 {"conversion_id": "c1", "occurred_at": "2026-01-01T00:00:00Z"},
                                 {"conversion_id": "c1"}, {"conversion_id": "c1", "occurred_at": True}])
def test_rows_not_ready_for_storage_are_refused(conversions: Any, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        conversions.put_rows("p1", [bad])


def test_dynamodb_reads_windows_with_a_query_on_the_index(aws: dict[str, str], calls: Any,
                                                          clock: ManualClock) -> None:
    store = DynamoConversionStore(clock=clock, page_size=10)
    store.put_rows("p1", [row(f"c{i}", T0 + i) for i in range(60)])
    assert calls.count("BatchWriteItem", aws["CONVERSIONS_TABLE"]) == 3  # 25 per request
    assert len(list(store.query("p1", T0, T0 + 100))) == 60
    table = aws["CONVERSIONS_TABLE"]
    queries = [body for op, t, body in calls.calls if op == "Query" and t == table]
    assert len(queries) >= 6  # followed LastEvaluatedKey to the end
    assert all(q["IndexName"] == "by_occurred_at" for q in queries)
    assert calls.count("Scan") == 0


def test_rows_of_one_second_come_in_conversion_id_order_across_pages(conversions: Any) -> None:
    """An index leaves the order of equal sort keys open; the payload hash depends on the order of the
    rows, so a run of one occurred_at is put in conversion_id order, also across page boundaries."""
    ids = [f"c{i:02d}" for i in range(40)]
    shuffled = ids[7::3] + ids[::3] + ids[1::3] + [i for i in ids[2::3] if i not in ids[7::3]]
    conversions.put_rows("p1", [row(cid, T0 + (5 if cid < "c20" else 9)) for cid in shuffled])
    conversions.put_rows("p1", [row("a-first", T0 + 1), row("z-last", T0 + 30)])
    found = [r["conversion_id"] for r in rows_of(conversions, "p1", T0, T0 + 100)]
    assert found == ["a-first", *ids, "z-last"]


def test_a_window_is_read_as_it_is_iterated(aws: dict[str, str], calls: Any, clock: ManualClock) -> None:
    """Pages are requested as the rows are consumed (one page ahead at most), so a window of a
    million rows never sits in memory; the Query projects the row only."""
    store = DynamoConversionStore(clock=clock, page_size=10)
    store.put_rows("p1", [row(f"c{i:03d}", T0 + i) for i in range(100)])
    table = aws["CONVERSIONS_TABLE"]
    calls.calls.clear()
    rows = store.query("p1", T0, T0 + 1000)
    assert calls.count("Query", table) == 0  # nothing read before the first row is asked for
    first = [next(rows) for _ in range(5)]
    assert [r["conversion_id"] for r in first] == [f"c{i:03d}" for i in range(5)]
    assert 1 <= calls.count("Query", table) <= 2  # this page, perhaps the next one
    assert len(list(rows)) == 95
    queries = [body for op, t, body in calls.calls if op == "Query" and t == table]
    assert len(queries) >= 10 and all(q["ProjectionExpression"] == "#row" for q in queries)

    calls.calls.clear()
    plain = DynamoConversionStore(clock=clock, page_size=10, read_ahead=False).query("p1", T0, T0 + 1000)
    next(plain)
    assert calls.count("Query", table) == 1
    plain.close()


def test_directory_round_trip(directory: Any, clock: ManualClock) -> None:
    directory.put_workspace("ws1", name="Acme", writeback_enabled=True)
    directory.put_member("ws1", "u1", "owner")
    directory.put_token("f" * 64, workspace_id="ws1", user_id="u1", scopes=["mcp:write", "mcp:read"],
                        expires_at=clock() + 60)
    settings = {"action_source": "system_generated", "country": "US", "currency": "USD",
                "event_mapping": {"trial_started": "StartTrial"}, "column_mapping": {"mail": "email"}}
    connection = {"pixel_id": "1234567890", "secret_id": "capi-writeback/connections/pr1",
                  "status": "active", "test_event_code": "TEST1", "api_version": "v25.0"}
    directory.put_profile("pr1", workspace_id="ws1", name="Shop", settings=settings, connection=connection)

    assert directory.get_workspace_settings("ws1")["writeback_enabled"] is True
    assert directory.get_workspace_settings("ws-none") is None
    assert directory.get_member_role("ws1", "u1") == "owner"
    assert directory.get_member_role("ws1", "u2") is None
    token = directory.get_token("f" * 64)
    assert token["workspace_id"] == "ws1" and token["user_id"] == "u1"
    assert token["scopes"] == ["mcp:read", "mcp:write"] and token["expires_at"] == int(clock() + 60)
    profile = directory.get_profile("pr1")
    assert profile["workspace_id"] == "ws1"
    assert profile["settings"] == settings and profile["connection"] == connection
    assert directory.get_profile("nope") is None

    clock.advance(60)
    assert directory.get_token("f" * 64) is None  # expired: absent even though moto keeps it


def test_directory_lists_a_workspaces_profiles_only(directory: Any) -> None:
    """whoami and the admin API list a workspace's profiles: a Query on the by_workspace index,
    every page, sorted by profile id, never another workspace's."""
    for i in range(30):
        directory.put_profile(f"pr{i:02d}", workspace_id="ws1", name=f"Shop {i}")
    directory.put_profile("other", workspace_id="ws2", name="Theirs")
    listed = directory.list_profiles("ws1")
    assert [p["profile_id"] for p in listed] == [f"pr{i:02d}" for i in range(30)]
    assert all(p["workspace_id"] == "ws1" for p in listed) and listed[3]["name"] == "Shop 3"
    assert [p["profile_id"] for p in directory.list_profiles("ws2")] == ["other"]
    assert directory.list_profiles("ws-none") == []


def test_dynamodb_lists_profiles_with_a_paginated_query(aws: dict[str, str], calls: Any) -> None:
    directory = DynamoDirectoryStore(page_size=4)
    for i in range(9):
        directory.put_profile(f"pr{i}", workspace_id="ws1", name="Shop")
    calls.calls.clear()
    assert len(directory.list_profiles("ws1")) == 9
    queries = [body for op, _t, body in calls.calls if op == "Query"]
    assert [q["IndexName"] for q in queries] == ["by_workspace"] * 3  # 4 + 4 + 1: every page
    assert calls.count("Scan") == 0


def test_directory_never_stores_a_raw_token(directory: Any) -> None:
    with pytest.raises(ValueError):
        directory.put_token("raw-bearer-token", workspace_id="ws1", user_id="u1", scopes=[], expires_at=1)


def test_importing_the_stores_and_rails_does_not_import_boto3() -> None:
    rails = ("idempotency", "breaker", "audit")
    modules = ["capi_writeback.store.directory.dynamodb", "capi_writeback.store.conversions.dynamodb",
               *(f"capi_writeback.rails.{rail}.persistence.dynamodb" for rail in rails),
               "capi_writeback.rails.idempotency.ledger", "capi_writeback.rails.breaker.circuit",
               "capi_writeback.rails.audit.log"]
    code = f"import sys, {', '.join(modules)}; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
