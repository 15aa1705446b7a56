"""The Distributed Map's child, called as the map calls it ({item, run}): the formats, bad rows, the
age window, unmapped columns; insert-only across overlapping runs, a retried child, a refused key."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from capi_writeback.flow.syncs.runs import new_run_id, run_record
from capi_writeback.flow.syncs.services import default_sync_services
from capi_writeback.syncs.ledger import key_of
from capi_writeback.syncs.source import work_items

from .conftest import META_TOKEN, PIXEL_ID, Context, Tenant, World, as_csv, as_jsonl, load_handler, rows

DAY = 86400


def start(
    tenant: Tenant, sync_id: str, *, part_bytes: int = 128 * 1024 * 1024
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A run of the sync as Plan registers it (without the lock: two such runs overlap), its items."""
    services = default_sync_services()
    sync = services.syncs.get(tenant.profile_id, sync_id)
    assert sync is not None
    now = time.time()
    run_id = new_run_id(now)
    record = run_record(sync, run_id, "api", tenant.user_id, now)
    record["test_event_code"] = sync.get("test_event_code") or "TEST12345"
    assert services.runs.create_run(record)
    source = sync["source"]
    items = work_items(services.source.objects(source["uri"]), source["format"], part_bytes)
    services.runs.update_run(sync_id, run_id, {"items": len(items)})
    return {"run_id": run_id, "sync_id": sync_id, "profile_id": tenant.profile_id}, items


def child(run: dict[str, str], item: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = load_handler("sync_child")({"item": item, "run": run}, Context())
    return result


def part_of(run: dict[str, str], item: int = 0) -> dict[str, Any]:
    (found,) = [
        p for p in default_sync_services().runs.list_parts(run["sync_id"], run["run_id"]) if p["item"] == item
    ]
    return found


def outcomes(run: dict[str, str]) -> list[list[Any]]:
    pages = default_sync_services().runs.outcome_pages(run["sync_id"], run["run_id"], None, 100)
    return [row for _item, _page, rows_ in pages for row in rows_]


def live_sync(tenant: Tenant, **changes: Any) -> str:
    sync_id: str = tenant.create(**changes)["sync_id"]
    tenant.go_live(sync_id)
    return sync_id


@pytest.mark.parametrize(
    ("fmt", "compress"), [("csv", False), ("csv", True), ("jsonl", False), ("jsonl", True)]
)
def test_each_format_with_bad_rows_old_rows_and_unmapped_columns(
    world: World, fmt: str, compress: bool
) -> None:
    tenant = world.tenant()
    now = int(time.time())
    good = rows(3, channel="system_generated", note="internal")
    old = rows(1, prefix="old", age=8 * DAY, channel="system_generated", note="x")  # past Meta's 7 days
    store = rows(1, prefix="store", age=30 * DAY, channel="physical_store", note="x")  # within its 62
    ancient = rows(1, prefix="anc", age=63 * DAY, channel="physical_store", note="x")
    no_key = [{**rows(1, prefix="nokey")[0], "order_id": "", "channel": "system_generated", "note": "x"}]
    data = good + old + store + ancient + no_key
    body = as_csv(data) if fmt == "csv" else as_jsonl(data).replace(b"\n", b"\nnot json at all\n", 1)
    tenant.put(f"export.{fmt}", body, compress=compress)
    mapping = {
        "event_name": {"column": "event"},
        "event_time": {"column": "ordered_at"},
        "em": {"column": "customer_email"},
        "value": {"column": "amount"},
        "currency": {"column": "currency"},
        "client_ip_address": {"column": "ip"},
        "action_source": {"column": "channel"},
    }
    sync_id = tenant.create(source={"type": "s3", "uri": tenant.uri(), "format": fmt}, mapping=mapping)[
        "sync_id"
    ]
    run, (item,) = start(tenant, sync_id)
    before = len(world.live_events(test=True))
    result = child(run, item)
    part = part_of(run)
    bad = 1 if fmt == "jsonl" else 0
    assert result["status"] == "done" and result["rows_read"] == len(data) + bad
    assert part["skipped"] == {
        "EVENT_TOO_OLD": 2,
        "MISSING_CONVERSION_ID": 1,
        **({"INVALID_ROW": 1} if bad else {}),
    }
    assert (part["rows_new"], part["events_sent"], part["events_received"]) == (4, 4, 4)
    assert len(world.live_events(test=True)) == before + 4  # a dry run: test events only
    assert any("note" in w and "ignored column" in w for w in part["warnings"]), part["warnings"]
    found = Counter((o[2], o[3]) for o in outcomes(run))
    assert found[("sent", None)] == 4 and found[("skipped", "EVENT_TOO_OLD")] == 2
    sent_times = {e["event_time"] for e in world.live_events(test=True)[before:]}
    assert now - 30 * DAY - 10 < min(sent_times)  # the physical_store row of 30 days went


def test_a_dry_run_writes_nothing_to_the_ledger(world: World) -> None:
    tenant = world.tenant()
    tenant.put("x.csv", as_csv(rows(5)))
    sync_id = tenant.create()["sync_id"]
    run, (item,) = start(tenant, sync_id)
    assert child(run, item)["events_sent"] == 5
    store = default_sync_services().ledger.store
    assert store.get_many(sync_id, [key_of(f"ord-{i}") for i in range(5)], time.time()) == {}


def test_two_overlapping_runs_send_each_key_once(world: World) -> None:
    tenant = world.tenant()
    tenant.put("big.csv", as_csv(rows(600)))
    sync_id = live_sync(tenant)
    before = len(world.live_events())
    (run_a, (item_a,)), (run_b, (item_b,)) = start(tenant, sync_id), start(tenant, sync_id)
    barrier = threading.Barrier(2)
    results: dict[str, dict[str, Any]] = {}

    def go(name: str, run: dict[str, str], item: dict[str, Any]) -> None:
        barrier.wait()
        results[name] = child(run, item)

    threads = [
        threading.Thread(target=go, args=("a", run_a, item_a)),
        threading.Thread(target=go, args=("b", run_b, item_b)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    sent = world.live_events()[before:]
    assert len(sent) == 600 and len({e["event_id"] for e in sent}) == 600
    assert results["a"]["events_sent"] + results["b"]["events_sent"] == 600
    for run in (run_a, run_b):
        part = part_of(run)
        others = part["skipped"].get("ALREADY_SENT", 0) + part["skipped"].get("IN_PROGRESS_ELSEWHERE", 0)
        assert part["events_sent"] + others == 600, part


def test_a_re_exported_file_sends_only_the_new_keys(world: World) -> None:
    tenant = world.tenant()
    tenant.put("day1.jsonl", as_jsonl(rows(20)))
    sync_id = live_sync(tenant, source={"type": "s3", "uri": tenant.uri(), "format": "jsonl"})
    run, items = start(tenant, sync_id)
    assert [child(run, i)["events_sent"] for i in items] == [20]
    tenant.put("day1.jsonl", as_jsonl(rows(25)))  # the same file, exported again with 5 more rows
    run, items = start(tenant, sync_id)
    assert [child(run, i)["events_sent"] for i in items] == [5]
    assert part_of(run)["skipped"] == {"ALREADY_SENT": 20}


def _received_ids(world: World, before: int) -> Counter[str]:
    return Counter(e["event_id"] for e in world.live_events()[before:])


def test_a_child_retried_after_a_crash_between_send_and_mark(world: World, monkeypatch: Any) -> None:
    """The batch in flight when it crashed is sent again (Meta deduplicates it by event_id); what was
    marked before is not."""
    from capi_writeback.syncs.persistence.dynamodb import DynamoKeyLedgerStore

    tenant = world.tenant()
    tenant.put("x.csv", as_csv(rows(50)))
    sync_id = live_sync(tenant)
    run, (item,) = start(tenant, sync_id)
    original = DynamoKeyLedgerStore.mark_sent
    marks = {"n": 0}

    def crash_on_second(self: Any, *args: Any, **kwargs: Any) -> None:
        marks["n"] += 1
        if marks["n"] == 2:
            raise ConnectionError("the child died after Meta took batch 1")
        original(self, *args, **kwargs)

    before = len(world.live_events())
    with world.meta_client(batch_size=10, concurrency=1):
        monkeypatch.setattr(DynamoKeyLedgerStore, "mark_sent", crash_on_second)
        with pytest.raises(Exception, match="INTERNAL"):
            child(run, item)  # Step Functions retries the item (INTERNAL is in its Retry)
        assert len(world.live_events()) == before + 20
        monkeypatch.setattr(DynamoKeyLedgerStore, "mark_sent", original)
        retried = child(run, item)
    received = _received_ids(world, before)
    assert len(received) == 50 and sum(received.values()) == 60
    assert sorted(set(received.values())) == [1, 2] and list(received.values()).count(2) == 10  # batch 1 only
    deduped = world.meta.received_events(PIXEL_ID, dedup=True)
    assert len({e["event_id"] for e in deduped} & set(received)) == 50
    assert (retried["events_sent"], retried["rows_new"]) == (50, 50)


def test_a_child_retried_after_a_crash_past_a_mark_sends_nothing_twice(
    world: World, monkeypatch: Any
) -> None:
    from capi_writeback.syncs.persistence.dynamodb import DynamoKeyLedgerStore

    tenant = world.tenant()
    tenant.put("x.csv", as_csv(rows(50)))
    sync_id = live_sync(tenant)
    run, (item,) = start(tenant, sync_id)
    original = DynamoKeyLedgerStore.mark_sent
    marks = {"n": 0}

    def crash_after_third(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        marks["n"] += 1
        if marks["n"] == 3:
            raise ConnectionError("the child died right after recording batch 2")

    before = len(world.live_events())
    with world.meta_client(batch_size=10, concurrency=1):
        monkeypatch.setattr(DynamoKeyLedgerStore, "mark_sent", crash_after_third)
        with pytest.raises(Exception, match="INTERNAL"):
            child(run, item)
        monkeypatch.setattr(DynamoKeyLedgerStore, "mark_sent", original)
        retried = child(run, item)
    received = _received_ids(world, before)
    assert len(received) == 50 and set(received.values()) == {1}  # the ledger alone kept every key once
    assert retried["events_sent"] == 50


def test_a_key_refused_by_meta_is_released_and_sent_by_the_next_run(world: World) -> None:
    from capi_writeback_local.meta_emulator import MetaEmulator
    from capi_writeback_local.meta_emulator.rules import Strictness

    tenant = world.tenant()
    tenant.put("x.csv", as_csv(rows(3) + rows(1, prefix="late", age=2 * DAY)))
    sync_id = live_sync(tenant)
    strict = MetaEmulator(tokens=(META_TOKEN,), pixel_ids=(PIXEL_ID,), strictness=Strictness(max_age_days=1))
    with strict, world.meta_client(base_url=strict.url):
        run, (item,) = start(tenant, sync_id)
        first = child(run, item)  # this Meta takes events up to a day old: it refuses the 2-day-old one
    assert (first["events_sent"], first["events_received"], first["rejected"]) == (4, 3, 1)
    (refused,) = [o for o in outcomes(run) if o[2] == "rejected"]
    assert refused[1] == "late-0" and refused[3].startswith("META_100") and refused[4]
    before = len(world.live_events())
    run, (item,) = start(tenant, sync_id)
    second = child(run, item)  # Meta takes it now: the released key is claimed and sent
    assert (second["events_sent"], second["events_received"]) == (1, 1)
    assert part_of(run)["skipped"] == {"ALREADY_SENT": 3}
    assert [e["event_time"] < time.time() - DAY for e in world.live_events()[before:]] == [True]


def test_a_batch_meta_keeps_failing_is_released_for_the_next_run(world: World) -> None:
    tenant = world.tenant()
    tenant.put("x.csv", as_csv(rows(6)))
    sync_id = live_sync(tenant)
    run, (item,) = start(tenant, sync_id)
    world.meta.inject("code_2")  # transient, still failing after the client's retries
    try:
        failed = child(run, item)
    finally:
        world.meta.clear_faults()
    assert (failed["failed"], failed["events_received"]) == (6, 0)
    assert {o[3] for o in outcomes(run)} == {"META_UNAVAILABLE"}
    run, (item,) = start(tenant, sync_id)
    assert child(run, item)["events_received"] == 6


def test_a_csv_whose_header_names_no_mapped_column_fails_its_item_only(world: World) -> None:
    tenant = world.tenant()
    tenant.put("x.csv", b"foo,bar\n1,2\n")
    sync_id = tenant.create()["sync_id"]
    run, (item,) = start(tenant, sync_id)
    result = child(run, item)
    assert result["status"] == "failed"
    assert "header was not understood" in part_of(run)["error"]["message"]


def test_byte_range_items_of_one_object_send_every_row_once(world: World) -> None:
    tenant = world.tenant()
    tenant.put("big.csv", as_csv(rows(300)))
    sync_id = live_sync(tenant)
    run, items = start(tenant, sync_id, part_bytes=4000)
    assert len(items) > 5
    before = len(world.live_events())
    results = [child(run, item) for item in items]
    assert sum(r["rows_read"] for r in results) == 300 and sum(r["events_sent"] for r in results) == 300
    assert len({e["event_id"] for e in world.live_events()[before:]}) == 300
