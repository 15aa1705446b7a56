"""moto_index: the sorted-partition Query path answers exactly what moto answers (items, order, pages,
LastEvaluatedKey, counts), and sees every write; it only makes reading n rows O(n log n)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from capi_writeback_local import moto_index
from capi_writeback_local.stack import create_tables
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

T0 = 1_780_000_000


@pytest.fixture(scope="module")
def ddb() -> Iterator[tuple[Any, dict[str, str]]]:
    moto_index.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        tables = create_tables(client)
        rng = random.Random(5)
        items = []
        for i in range(400):
            item: dict[str, Any] = {
                "profile_id": {"S": f"p{i % 3}"}, "conversion_id": {"S": f"c{rng.randrange(10**6):06d}"},
                "occurred_at": {"N": str(T0 + rng.randrange(60))}, "row": {"S": "x" * rng.randrange(50)},
                "ttl": {"N": str(T0 + rng.choice([-5, 10**6]))}}
            if i % 4:
                item["outcome_type"] = {"S": rng.choice(["payment_received", "lead_created"])}
            items.append(item)
        for start in range(0, len(items), 25):
            client.batch_write_item(RequestItems={tables["CONVERSIONS_TABLE"]: [
                {"PutRequest": {"Item": item}} for item in items[start:start + 25]]})
        for i in range(30):  # pages end on the 1 MB limit here
            client.put_item(TableName=tables["CONVERSIONS_TABLE"], Item={
                "profile_id": {"S": "big"}, "conversion_id": {"S": f"b{i:02d}"},
                "occurred_at": {"N": str(T0 + i % 20)}, "row": {"S": "y" * (60_000 + 1_500 * i)}})
        for i in range(60):
            client.put_item(TableName=tables["AUDIT_TABLE"], Item={
                "profile_id": {"S": f"p{i % 2}"}, "sk": {"S": f"2026-01-01T00:00:{i % 60:02d}.000Z#{i:04d}"},
                "status": {"S": "succeeded"}})
        yield client, tables


def pages(client: Any, **request: Any) -> list[tuple[list[Any], Any, int, int]]:
    out = []
    while True:
        response = client.query(**request)
        out.append((response.get("Items"), response.get("LastEvaluatedKey"), response["Count"],
                    response["ScannedCount"]))
        if "LastEvaluatedKey" not in response:
            return out
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


ANSWERED: list[int] = []  # pages the fast path answered itself


@pytest.fixture(autouse=True)
def _count_fast_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    original = moto_index._fast_query

    def counted(*args: Any, **kwargs: Any) -> Any:
        answer = original(*args, **kwargs)
        if answer is not None:
            ANSWERED.append(1)
        return answer

    monkeypatch.setattr(moto_index, "_fast_query", counted)


def both(client: Any, **request: Any) -> None:
    ANSWERED.clear()
    fast = pages(client, **request)
    assert len(ANSWERED) == len(fast)  # the fast path answered every page itself
    with moto_index.moto_only():
        slow = pages(client, **request)
    assert fast == slow


@settings(max_examples=40, deadline=None)
@given(profile=st.sampled_from(["p0", "p1", "p2", "p9", "big"]), low=st.integers(-5, 65),
       span=st.integers(0, 70), limit=st.one_of(st.none(), st.integers(1, 50)), forward=st.booleans(),
       op=st.sampled_from(["BETWEEN", "=", "<", "<=", ">", ">=", None]), project=st.booleans(),
       outcome=st.booleans())
def test_window_queries_on_the_index_answer_like_moto(ddb: tuple[Any, dict[str, str]], profile: str, low: int,
                                                      span: int, limit: int | None, forward: bool,
                                                      op: str | None, project: bool, outcome: bool) -> None:
    client, tables = ddb
    values: dict[str, Any] = {":p": {"S": profile}, ":now": {"N": str(T0)}}
    condition = "profile_id = :p"
    if op == "BETWEEN":
        condition += " AND occurred_at BETWEEN :a AND :b"
        values.update({":a": {"N": str(T0 + low)}, ":b": {"N": str(T0 + low + span)}})
    elif op is not None:
        condition += f" AND occurred_at {op} :a"
        values[":a"] = {"N": str(T0 + low)}
    request: dict[str, Any] = {"TableName": tables["CONVERSIONS_TABLE"], "IndexName": "by_occurred_at",
                               "KeyConditionExpression": condition, "ExpressionAttributeValues": values,
                               "ScanIndexForward": forward,
                               "FilterExpression": "attribute_not_exists(#ttl) OR #ttl > :now",
                               "ExpressionAttributeNames": {"#ttl": "ttl"}}
    if outcome:
        request["FilterExpression"] += " AND outcome_type IN (:o)"
        values[":o"] = {"S": "lead_created"}
    if limit is not None:
        request["Limit"] = limit
    if project:
        request["ProjectionExpression"] = "#row"
        request["ExpressionAttributeNames"]["#row"] = "row"
    both(client, **request)


@pytest.mark.parametrize("forward", [True, False])
def test_table_queries_answer_like_moto(ddb: tuple[Any, dict[str, str]], forward: bool) -> None:
    client, tables = ddb
    for limit in (None, 1, 7):
        request: dict[str, Any] = {"TableName": tables["AUDIT_TABLE"],
                                   "KeyConditionExpression": "profile_id = :p",
                                   "ExpressionAttributeValues": {":p": {"S": "p1"}},
                                   "ScanIndexForward": forward}
        if limit:
            request["Limit"] = limit
        both(client, **request)


def test_every_write_is_seen(ddb: tuple[Any, dict[str, str]]) -> None:
    client, tables = ddb
    table = tables["CONVERSIONS_TABLE"]
    request = {"TableName": table, "IndexName": "by_occurred_at",
               "KeyConditionExpression": "profile_id = :p", "ExpressionAttributeValues": {":p": {"S": "w"}}}

    def ids() -> list[str]:
        return [i["conversion_id"]["S"] for page in pages(client, **request) for i in page[0]]

    client.put_item(TableName=table, Item={"profile_id": {"S": "w"}, "conversion_id": {"S": "a"},
                                           "occurred_at": {"N": "5"}})
    client.put_item(TableName=table, Item={"profile_id": {"S": "w"}, "conversion_id": {"S": "b"},
                                           "occurred_at": {"N": "3"}})
    assert ids() == ["b", "a"]
    client.update_item(TableName=table, Key={"profile_id": {"S": "w"}, "conversion_id": {"S": "b"}},
                       UpdateExpression="SET occurred_at = :t", ExpressionAttributeValues={":t": {"N": "9"}})
    assert ids() == ["a", "b"]  # an update in place moved it
    client.delete_item(TableName=table, Key={"profile_id": {"S": "w"}, "conversion_id": {"S": "a"}})
    assert ids() == ["b"]
    client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {
        "profile_id": {"S": "w"}, "conversion_id": {"S": "c"}, "occurred_at": {"N": "1"}}}}])
    assert ids() == ["c", "b"]


def test_a_window_read_in_many_pages_sorts_the_table_once(ddb: tuple[Any, dict[str, str]],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The O(n²) of issue 10: moto sorted every item of the table for every page. Now the partitions
    are sorted once after a write, and every page after that is a binary search."""
    from moto.dynamodb.models.table import Table

    client, tables = ddb
    walks: list[int] = []
    original = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda table: walks.append(1) or original(table))
    request = {"TableName": tables["CONVERSIONS_TABLE"], "IndexName": "by_occurred_at", "Limit": 10,
               "KeyConditionExpression": "profile_id = :p", "ExpressionAttributeValues": {":p": {"S": "p1"}}}
    client.put_item(TableName=tables["CONVERSIONS_TABLE"], Item={
        "profile_id": {"S": "p1"}, "conversion_id": {"S": "fresh"}, "occurred_at": {"N": str(T0)}})
    read = pages(client, **request)
    assert len(read) >= 10 and len(walks) == 1
    pages(client, **request)
    assert len(walks) == 1  # nothing was written since: the sorted partitions are reused
