"""The three steps over HTTP (handlers in-process): preview → dry-run → confirm → replay."""

from __future__ import annotations

import pytest

from tests.lambdas.conftest import PIXEL_ID, Env, conversion_rows


def test_preview_builds_events_and_sends_nothing(env: Env) -> None:
    tenant = env.tenant()
    rows = conversion_rows(5)
    rows.append({"conversion_id": "stale", "outcome_type": "payment_received", "occurred_at": 1_000_000,
                 "email": "old@example.com", "value": 1, "currency": "USD"})
    response = tenant.call("preview", {"rows": rows})
    assert response.status == 200, response.body
    body = response.body
    assert body["operation"] == "preview"
    assert body["event_count"] == 5
    assert body["events_by_name"] == {"Purchase": 3, "Lead": 2}
    assert body["payload_hash"].startswith("sha256:")
    assert body["preview_id"].startswith("pv_")
    assert len(body["sample_events"]) == 3
    assert body["sample_events"][0]["user_data"]["em"][0] != "buyer.0@example.com"
    assert [s["conversion_id"] for s in body["skipped"]] == ["stale"]
    assert sum(body["match_quality"].values()) == 5
    assert body["request_id"].startswith("req-")
    assert env.emulator.ledger() == []


def test_dry_run_sends_with_test_code_then_confirm_and_replay(env: Env) -> None:
    tenant = env.tenant()
    rows = conversion_rows(7)
    preview = tenant.call("preview", {"rows": rows}).body

    dry = tenant.call("dry_run", {"rows": rows, "preview_id": preview["preview_id"]})
    assert dry.status == 200, dry.body
    assert dry.body["test_event_code"] == "TEST12345"
    assert dry.body["events_received"] == 7
    assert dry.body["fbtrace_ids"]
    assert len(env.emulator.received_events(PIXEL_ID, test=True)) == 7
    assert env.emulator.received_events(PIXEL_ID) == []

    confirm = tenant.call("confirm", {"rows": rows, "preview_id": preview["preview_id"],
                                      "idempotency_key": "order-batch-1"})
    assert confirm.status == 200, confirm.body
    body = confirm.body
    assert body["status"] == "succeeded"
    assert body["replayed"] is False
    assert body["events_received"] == 7
    assert body["payload_hash"] == preview["payload_hash"]
    assert [b["status"] for b in body["batches"]] == ["accepted"]
    assert len(env.emulator.received_events(PIXEL_ID)) == 7

    requests_before = len(env.emulator.ledger())
    replay = tenant.call("confirm", {"rows": rows, "idempotency_key": "order-batch-1"})
    assert replay.status == 200
    assert replay.body["replayed"] is True
    assert replay.body["original_request_id"] == body["request_id"]
    per_request = ("replayed", "request_id", "original_request_id")
    assert {k: v for k, v in replay.body.items() if k not in per_request} == \
        {k: v for k, v in body.items() if k not in per_request}
    assert len(env.emulator.ledger()) == requests_before
    assert len(env.emulator.received_events(PIXEL_ID)) == 7


def _metrics(text: str) -> dict[str, float]:
    """Sum of every EMF metric value printed (one JSON object per line with an `_aws` key)."""
    import json

    totals: dict[str, float] = {}
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values)
    return totals


def test_metrics_events_sent_replays_failures_breaker(env: Env, capfd: pytest.CaptureFixture[str]) -> None:
    tenant = env.tenant()
    rows = conversion_rows(4)
    tenant.call("confirm", {"rows": rows, "idempotency_key": "m1"})
    tenant.call("confirm", {"rows": rows, "idempotency_key": "m1"})
    env.emulator.inject("http_503")
    for i in range(3):
        tenant.call("confirm", {"rows": conversion_rows(1, start=i), "idempotency_key": f"m-fail-{i}"})
    totals = _metrics(capfd.readouterr().out)
    assert totals == {"EventsSent": 4, "Replays": 1, "ConfirmsFailed": 3, "BreakerOpened": 1}


def test_confirm_with_nothing_to_send_succeeds_without_meta(env: Env) -> None:
    tenant = env.tenant()
    stale = [{"conversion_id": "old", "outcome_type": "payment_received", "occurred_at": 1_000_000,
              "email": "a@b.co", "value": 1, "currency": "USD"}]
    response = tenant.call("confirm", {"rows": stale, "idempotency_key": "empty"})
    assert response.status == 200, response.body
    assert response.body["status"] == "succeeded" and response.body["event_count"] == 0
    assert response.body["batches"] == [] and response.body["skipped"][0]["reason"]
    assert env.emulator.ledger() == []
