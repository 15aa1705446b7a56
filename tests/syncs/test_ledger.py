"""The insert-only ledger: the same rules on DynamoDB (moto, the template's table) and in memory."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from capi_writeback.rails.clock import ManualClock
from capi_writeback.syncs.ledger import TTL_SECONDS, KeyLedger, key_of
from capi_writeback.syncs.persistence.base import RELEASED
from capi_writeback.syncs.persistence.memory import MemoryKeyLedgerStore
from moto import mock_aws

SYNC = "sync_0123456789abcdef0123"


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryKeyLedgerStore()
        return
    from capi_writeback import store as shared
    from capi_writeback.syncs.persistence.dynamodb import DynamoKeyLedgerStore
    from capi_writeback_local.stack import create_tables

    saved = dict(os.environ)
    with mock_aws():
        os.environ.pop("AWS_ENDPOINT_URL", None)
        shared.reset_client()
        client = boto3.client("dynamodb", region_name="us-east-1")
        tables = create_tables(client)
        yield DynamoKeyLedgerStore(tables["SYNC_LEDGER_TABLE"], client)
    shared.reset_client()
    os.environ.clear()
    os.environ.update(saved)


def test_a_key_is_claimed_once_then_sent_then_never_claimed_again(store: Any) -> None:
    clock = ManualClock(1_800_000_000)
    ledger = KeyLedger(store, clock)
    first = ledger.claim(SYNC, "run_a#0", "run_a", ["o-1", "o-2"], lease_until=clock() + 600)
    assert first.new == [0, 1]
    other = ledger.claim(SYNC, "run_b#0", "run_b", ["o-1", "o-2", "o-3"], lease_until=clock() + 600)
    assert other.busy == [0, 1] and other.new == [2]  # run_a is sending them
    ledger.mark_sent(SYNC, "run_a#0", "run_a", ["o-1"])
    ledger.release(SYNC, "run_a#0", ["o-2"], "rejected by Meta")
    later = ledger.claim(SYNC, "run_c#0", "run_c", ["o-1", "o-2"], lease_until=clock() + 600)
    assert later.sent_before == [0] and later.new == [1]  # the refused key goes again, the sent one never
    assert ledger.unsent(SYNC, ["o-1", "o-2", "o-4"]).new == [1, 2]


def test_a_retried_item_takes_its_own_claims_back_and_counts_what_it_marked(store: Any) -> None:
    clock = ManualClock(1_800_000_000)
    ledger = KeyLedger(store, clock)
    ledger.claim(SYNC, "run_a#3", "run_a", ["k1", "k2"], lease_until=clock() + 600)
    ledger.mark_sent(SYNC, "run_a#3", "run_a", ["k1"])  # then the child crashed
    retry = ledger.claim(SYNC, "run_a#3", "run_a", ["k1", "k2"], lease_until=clock() + 600)
    assert retry.sent_by_owner == [0] and retry.new == [1]


def test_a_lapsed_claim_is_taken_over_and_the_ttl_passes_the_62_day_window(store: Any) -> None:
    clock = ManualClock(1_800_000_000)
    ledger = KeyLedger(store, clock)
    ledger.claim(SYNC, "run_a#0", "run_a", ["k"], lease_until=clock() + 60)
    clock.advance(61)
    assert ledger.claim(SYNC, "run_b#0", "run_b", ["k"], lease_until=clock() + 60).new == [0]
    ledger.mark_sent(SYNC, "run_b#0", "run_b", ["k"])
    (entry,) = store.get_many(SYNC, [key_of("k")], clock()).values()
    assert entry.expires_at == pytest.approx(clock() + TTL_SECONDS) and TTL_SECONDS > 62 * 86400
    clock.advance(TTL_SECONDS + 1)  # expired (moto never deletes it): absent, claimable
    assert ledger.claim(SYNC, "run_c#0", "run_c", ["k"], lease_until=clock() + 60).new == [0]


def test_releasing_leaves_other_owners_claims_alone(store: Any) -> None:
    clock = ManualClock(1_800_000_000)
    ledger = KeyLedger(store, clock)
    ledger.claim(SYNC, "run_a#0", "run_a", ["k"], lease_until=clock() + 600)
    ledger.release(SYNC, "run_b#0", ["k"], "not mine")
    (entry,) = store.get_many(SYNC, [key_of("k")], clock()).values()
    assert entry.owner == "run_a#0" and entry.state != RELEASED


def test_concurrent_claims_give_each_key_to_exactly_one_run(store: Any) -> None:
    clock = ManualClock(1_800_000_000)
    ledger = KeyLedger(store, clock)
    keys = [f"o-{i}" for i in range(250)]  # three transactions of 100 each
    won: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claim(owner: str) -> None:
        barrier.wait()
        decision = ledger.claim(SYNC, owner, owner.split("#")[0], keys, lease_until=clock() + 600)
        won[owner] = decision.new

    threads = [threading.Thread(target=claim, args=(f"run_{n}#0",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = sorted(p for positions in won.values() for p in positions)
    assert claimed == list(range(len(keys)))  # every key once, by one run


@pytest.mark.parametrize("store", ["dynamodb"], indirect=True)
def test_claims_are_grouped_in_transactions_of_100(store: Any) -> None:
    calls: list[str] = []
    original = store.ddb._make_api_call

    def counting(operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(operation, params)

    store.ddb._make_api_call = counting
    ledger = KeyLedger(store, ManualClock(1_800_000_000))
    ledger.claim(SYNC, "run_a#0", "run_a", [f"o-{i}" for i in range(300)], lease_until=1_800_000_600)
    ledger.mark_sent(SYNC, "run_a#0", "run_a", [f"o-{i}" for i in range(300)])
    assert calls.count("TransactWriteItems") == 3 and calls.count("BatchGetItem") == 3
    assert calls.count("BatchWriteItem") == 12 and "PutItem" not in calls and "UpdateItem" not in calls


@pytest.mark.parametrize("store", ["dynamodb"], indirect=True)
def test_a_cancelled_transaction_leaves_no_item_written(store: Any) -> None:
    """What the claims rely on (and the local moto patch keeps: it snapshots only touched items)."""
    client, table = store.ddb, store.table

    def update(key: str, condition: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": table,
                "Key": {"sync_id": {"S": SYNC}, "key": {"S": key}},
                "UpdateExpression": "SET #s = :c",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": {":c": {"S": "claimed"}},
            }
        }

    client.put_item(
        TableName=table, Item={"sync_id": {"S": SYNC}, "key": {"S": "k0"}, "state": {"S": "sent"}}
    )
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                update("k1", "attribute_not_exists(#s)"),
                update("k0", "#s = :c"),  # it is sent: fails
                update("k2", "attribute_not_exists(#s)"),
            ]
        )
    keys = {i["key"]["S"]: i["state"]["S"] for i in client.scan(TableName=table)["Items"]}
    assert keys == {"k0": "sent"}
