"""Runs end to end: the run API starts the shipped sync state machine, which moto executes (Plan,
the Distributed Map over the manifest, children, Finish) with the functions in process and Meta's
emulator on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

from capi_writeback.rails.breaker.circuit import CircuitBreaker
from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore

from .conftest import World, as_csv, as_jsonl, rows


def _runs_of(tenant: Any) -> list[dict[str, Any]]:
    return [r for r in tenant.audit() if r["operation"] == "sync_run"]


def test_dry_run_then_live_then_only_new_rows(world: World) -> None:
    tenant = world.tenant()
    tenant.put("2026-11-23.csv", as_csv(rows(30)))
    sync_id = tenant.create(test_event_code="TESTSYNCDRY")["sync_id"]
    live_before, test_before = len(world.live_events()), len(world.live_events(test=True))

    dry = tenant.run(sync_id)
    assert dry["status"] == "succeeded" and dry["mode"] == "dry_run", dry
    assert (dry["rows_read"], dry["rows_new"], dry["events_sent"], dry["events_received"]) == (30, 30, 30, 30)
    assert dry["test_event_code"] == "TESTSYNCDRY" and "TESTSYNCDRY" in world.meta.test_event_codes()
    assert len(world.live_events()) == live_before and len(world.live_events(test=True)) == test_before + 30

    tenant.go_live(sync_id)
    live = tenant.run(sync_id)  # the dry run marked nothing: everything goes, for real, once
    assert (live["status"], live["mode"], live["events_received"], live["rows_new"]) == (
        "succeeded",
        "live",
        30,
        30,
    )
    assert live["match_quality"]["good"] == 30 and live["test_event_code"] is None
    sent = world.live_events()[live_before:]
    assert len(sent) == 30 and len({e["event_id"] for e in sent}) == 30

    # The next export holds yesterday's rows again plus 10 new ones (a model re-exported whole).
    tenant.put("2026-11-24.csv", as_csv(rows(40)))
    again = tenant.run(sync_id)
    assert (again["status"], again["rows_read"], again["rows_new"], again["events_sent"]) == (
        "succeeded",
        70,
        10,
        10,
    )
    assert again["skipped"] == {"ALREADY_SENT": 60}
    assert len(world.live_events()) == live_before + 40

    audit = _runs_of(tenant)
    assert [
        (r["status"], r["event_count"], r["via"]) for r in sorted(audit, key=lambda r: r["created_at"])
    ] == [
        ("succeeded", 30, "step_functions"),
        ("succeeded", 30, "step_functions"),
        ("succeeded", 10, "step_functions"),
    ]
    assert {r["request_id"] for r in audit} == {dry["run_id"], live["run_id"], again["run_id"]}
    assert all(r["actor"] == tenant.user_id and r["fbtrace_ids"] for r in audit)
    listed = tenant.call("GET", f"/syncs/{sync_id}/runs", query={"limit": "2"})
    assert [r["run_id"] for r in listed.body["items"]] == [again["run_id"], live["run_id"]]
    rest = tenant.call("GET", f"/syncs/{sync_id}/runs", query={"limit": "2", "next": listed.body["next"]})
    assert [r["run_id"] for r in rest.body["items"]] == [dry["run_id"]] and rest.body["next"] is None
    # the definition keeps the latest finished run (the sync list and the dashboard show it)
    (shown,) = tenant.call("GET", "/syncs").body["items"]
    assert shown["last_run"] == {"run_id": again["run_id"], "status": "succeeded", "mode": "live",
                                 "started_at": again["started_at"], "finished_at": again["finished_at"],
                                 "events_sent": 10}


def test_per_row_outcomes_are_kept_without_raw_pii(world: World) -> None:
    tenant = world.tenant()
    data = [
        *rows(5),
        {
            "order_id": "no-time",
            "event": "Purchase",
            "customer_email": "a@b.co",
            "amount": "1",
            "currency": "USD",
            "ip": "203.0.113.9",
        },
    ]
    tenant.put("x.jsonl", as_jsonl(data))
    sync_id = tenant.create(source={"type": "s3", "uri": tenant.uri(), "format": "jsonl"})["sync_id"]
    report = tenant.run(sync_id)
    assert report["skipped"] == {"MISSING_TIMESTAMP": 1} and report["events_sent"] == 5
    outcomes = tenant.call("GET", f"/syncs/{sync_id}/runs/{report['run_id']}/rows").body["items"]
    assert Counter(o["outcome"] for o in outcomes) == {"sent": 5, "skipped": 1}
    (skipped,) = [o for o in outcomes if o["outcome"] == "skipped"]
    assert (skipped["row"], skipped["conversion_id"], skipped["reason"]) == (
        5,
        "no-time",
        "MISSING_TIMESTAMP",
    )
    assert skipped["object"] == tenant.prefix + "x.jsonl"
    only = tenant.call("GET", f"/syncs/{sync_id}/runs/{report['run_id']}/rows", query={"outcome": "skipped"})
    assert len(only.body["items"]) == 1
    stored = json.dumps(outcomes) + json.dumps(report)
    assert "@example.com" not in stored and "a@b.co" not in stored


def test_a_second_start_while_one_runs_is_refused_not_queued(world: World) -> None:
    tenant = world.tenant()
    tenant.put("slow.csv", as_csv(rows(3)))
    sync_id = tenant.create()["sync_id"]
    world.meta.inject("latency", latency_ms=1500)
    try:
        first = tenant.call("POST", f"/syncs/{sync_id}/runs")
        assert first.status == 202
        second = tenant.call("POST", f"/syncs/{sync_id}/runs")
        assert (second.status, second.error_type) == (409, "SYNC_RUN_IN_PROGRESS"), second.body
        assert second.body["error"]["details"] == {"run_id": first.body["run_id"]}
        assert tenant.call("GET", f"/syncs/{sync_id}").body["running_run"] == first.body["run_id"]
        report = tenant.wait(sync_id, first.body["run_id"])
    finally:
        world.meta.clear_faults()
    assert report["status"] == "succeeded"
    assert tenant.call("POST", f"/syncs/{sync_id}/runs").status == 202  # free again after Finish
    statuses = Counter(r["status"] for r in _runs_of(tenant))
    assert statuses["refused"] == 1


def test_a_scheduled_start_derives_its_run_and_skips_while_another_runs(world: World) -> None:
    tenant = world.tenant()
    tenant.put("s.csv", as_csv(rows(2)))
    sync_id = tenant.create(schedule="rate(15 minutes)")["sync_id"]
    schedule = world.scheduler.get_schedule(
        Name=f"cwb-sync-{sync_id}", GroupName=world.sync_env["SYNC_SCHEDULE_GROUP"]
    )
    # moto stores schedules but never fires them: start the execution exactly as the Scheduler would.
    arn = world.sfn.start_execution(
        stateMachineArn=schedule["Target"]["Arn"], name=f"sched-{sync_id}", input=schedule["Target"]["Input"]
    )["executionArn"]
    described = _wait_execution(world, arn)
    assert described["status"] == "SUCCEEDED", described
    (run,) = tenant.call("GET", f"/syncs/{sync_id}/runs").body["items"]
    assert run["trigger"] == "schedule" and run["status"] == "succeeded" and run["run_id"].startswith("run_")
    assert _runs_of(tenant)[0]["actor"] == tenant.user_id  # the last user who saved the sync

    world.meta.inject("latency", latency_ms=1500)
    try:
        started = tenant.call("POST", f"/syncs/{sync_id}/runs")
        busy = world.sfn.start_execution(
            stateMachineArn=schedule["Target"]["Arn"],
            name=f"sched2-{sync_id}",
            input=schedule["Target"]["Input"],
        )["executionArn"]
        assert _wait_execution(world, busy)["status"] == "SUCCEEDED"
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in world.sfn.get_execution_history(executionArn=busy, maxResults=1000)["events"]
            if "stateEnteredEventDetails" in e
        ]
        assert "Skipped" in entered and "Items" not in entered and "Finish" not in entered
        tenant.wait(sync_id, started.body["run_id"])
    finally:
        world.meta.clear_faults()


def _wait_execution(world: World, arn: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described: dict[str, Any] = world.sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("execution still running")


def test_the_breaker_pauses_live_runs_and_failed_live_runs_feed_it(world: World) -> None:
    tenant = world.tenant()
    tenant.put("b.csv", as_csv(rows(4)))
    sync_id = tenant.create()["sync_id"]
    tenant.go_live(sync_id)
    before = len(world.live_events())
    world.meta.inject("http_503")  # Meta is down: each run's batch fails after the client's retries
    try:
        for _ in range(3):
            failed = tenant.run(sync_id)
            assert failed["status"] == "failed" and failed["failed"] == 4 and failed["events_received"] == 0
        paused = tenant.run(sync_id)  # three failed runs in 30 minutes opened the profile's breaker
    finally:
        world.meta.clear_faults()
    assert paused["status"] == "paused" and "circuit breaker" in paused["paused_reason"], paused
    assert paused["rows_read"] == 0 and len(world.live_events()) == before
    assert [r["status"] for r in sorted(_runs_of(tenant), key=lambda r: r["created_at"])] == [
        "failed",
        "failed",
        "failed",
        "paused",
    ]
    CircuitBreaker(DynamoBreakerStore()).reset(tenant.profile_id)
    resumed = tenant.run(sync_id)  # the failed rows were released: the next run sends them
    assert resumed["status"] == "succeeded" and resumed["events_received"] == 4
    assert len(world.live_events()) == before + 4


def test_a_dry_run_goes_while_the_breaker_is_open(world: World) -> None:
    tenant = world.tenant()
    tenant.put("d.csv", as_csv(rows(2)))
    sync_id = tenant.create()["sync_id"]
    breaker = CircuitBreaker(DynamoBreakerStore())
    for _ in range(3):
        breaker.record_failure(tenant.profile_id)
    assert tenant.run(sync_id)["status"] == "succeeded"  # test events only: the breaker guards live sends


def test_a_disabled_sync_refuses_runs(world: World) -> None:
    tenant = world.tenant()
    sync_id = tenant.create(enabled=False)["sync_id"]
    answer = tenant.call("POST", f"/syncs/{sync_id}/runs")
    assert (answer.status, answer.error_type) == (409, "SYNC_DISABLED")
    assert [(r["status"], r["error"]["type"]) for r in _runs_of(tenant)] == [("refused", "SYNC_DISABLED")]


def test_an_item_that_keeps_failing_is_tolerated_and_counted(world: World, monkeypatch: Any) -> None:
    from capi_writeback.syncs.persistence.dynamodb import DynamoRunStore

    tenant = world.tenant()
    tenant.put("a.csv", as_csv(rows(3, prefix="a")))
    tenant.put("b.csv", as_csv(rows(3, prefix="b")))
    sync_id = tenant.create()["sync_id"]
    original = DynamoRunStore.put_part

    def broken(self: Any, sync: str, run: str, part: dict[str, Any]) -> None:
        if sync == sync_id and part["key"].endswith("b.csv"):
            raise RuntimeError("DynamoDB unreachable")  # after the sends: the item fails every retry
        original(self, sync, run, part)

    monkeypatch.setattr(DynamoRunStore, "put_part", broken)
    report = tenant.run(sync_id)
    assert report["status"] == "partially_failed", report
    assert report["items"] == {"total": 2, "done": 1, "failed": 1, "paused": 0, "cut_short": 0}
    assert any("failed after retries" in w for w in report["warnings"])
    child_calls = [
        p
        for name, p in world.lambdas.calls
        if name.endswith("sync-child-function") and p["run"]["run_id"] == report["run_id"]
    ]
    assert sorted(Counter(p["item"]["key"].rsplit("/", 1)[1] for p in child_calls).items()) == [
        ("a.csv", 1),
        ("b.csv", 3),
    ]  # Step Functions retried the failing child twice
    # the exact payload Distributed Map hands a child: ItemSelector {item: manifest entry, run}
    assert set(child_calls[0]) == {"item", "run"} and set(child_calls[0]["run"]) == {
        "run_id",
        "sync_id",
        "profile_id",
    }


def test_an_athena_source_runs_its_query_first(world: World) -> None:
    tenant = world.tenant()
    output = tenant.uri("athena/")
    source = {
        "type": "athena",
        "query": "SELECT * FROM analytics.conversions_model",
        "workgroup": "primary",
        "output": output,
    }
    sync_id = tenant.create(source=source)["sync_id"]
    written: list[str] = []
    stop = threading.Event()

    def act_as_athena() -> None:  # moto runs the query instantly but writes no result file: we do
        import boto3

        client = boto3.client("athena", region_name="us-east-1")
        while not stop.is_set():
            for query_id in client.list_query_executions().get("QueryExecutionIds", []):
                if query_id not in written:
                    key = f"{tenant.prefix}athena/{query_id}.csv"
                    world.s3.put_object(Bucket=world.export_bucket, Key=key, Body=as_csv(rows(4)))
                    world.s3.put_object(Bucket=world.export_bucket, Key=key + ".metadata", Body=b"meta")
                    written.append(query_id)
            time.sleep(0.05)

    helper = threading.Thread(target=act_as_athena, daemon=True)
    helper.start()
    try:
        report = tenant.run(sync_id)
    finally:
        stop.set()
        helper.join(5)
    assert report["status"] == "succeeded" and report["events_received"] == 4, report
    assert report["items"]["total"] == 1  # the result file, not its .metadata
