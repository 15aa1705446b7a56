"""Conversion rows on CONVERSIONS_TABLE. The row is kept as JSON (exact round trip, no Decimal
surprises) beside the key and index attributes; windows are a Query on GSI `by_occurred_at`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from capi_writeback.store._dynamo import Backend, batch_write, num
from capi_writeback.store.conversions.base import TTL_SECONDS, conversion_id_of, occurred_at_seconds


class DynamoConversionStore(Backend):
    """ConversionStore on CONVERSIONS_TABLE."""

    env_var = "CONVERSIONS_TABLE"
    index_name = "by_occurred_at"

    def __init__(self, table_name: str | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time, ttl_seconds: float = TTL_SECONDS,
                 page_size: int | None = None) -> None:
        super().__init__(table_name, client, clock)
        self.ttl_seconds = ttl_seconds
        self.page_size = page_size  # items per Query page (None: DynamoDB's 1 MB pages)

    def put_rows(self, profile_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
        now = self.clock()
        by_id: dict[str, dict[str, Any]] = {}
        for row in rows:
            conversion_id = conversion_id_of(row)
            item: dict[str, Any] = {
                "profile_id": {"S": profile_id},
                "conversion_id": {"S": conversion_id},
                "occurred_at": num(occurred_at_seconds(row.get("occurred_at"))),
                "row": {"S": json.dumps(dict(row), separators=(",", ":"), sort_keys=True, default=str)},
                "stored_at": num(int(now)),
                "ttl": num(int(now + self.ttl_seconds)),
            }
            if isinstance(row.get("outcome_type"), str):
                item["outcome_type"] = {"S": row["outcome_type"]}
            by_id[conversion_id] = item  # one write per key: BatchWriteItem refuses duplicates
        items = list(by_id.values())
        for start in range(0, len(items), 25):
            batch_write(self.ddb, self.table, [{"PutRequest": {"Item": item}}
                                               for item in items[start:start + 25]])
        return len(by_id)

    def query(self, profile_id: str, start: float, end: float,
              outcome_types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        wanted = sorted(set(outcome_types)) if outcome_types is not None else []
        names = {"#ttl": "ttl"}
        values: dict[str, Any] = {":p": {"S": profile_id}, ":start": num(start), ":end": num(end),
                                  ":now": num(int(self.clock()))}
        filters = ["(attribute_not_exists(#ttl) OR #ttl > :now)"]
        if wanted and len(wanted) <= 99:
            for i, outcome in enumerate(wanted):
                values[f":o{i}"] = {"S": outcome}
            filters.append(f"outcome_type IN ({', '.join(f':o{i}' for i in range(len(wanted)))})")
        kwargs: dict[str, Any] = {"Limit": self.page_size} if self.page_size else {}
        found: list[tuple[float, str, dict[str, Any]]] = []
        while True:
            response = self.ddb.query(
                TableName=self.table, IndexName=self.index_name,
                KeyConditionExpression="profile_id = :p AND occurred_at BETWEEN :start AND :end",
                FilterExpression=" AND ".join(filters), ExpressionAttributeNames=names,
                ExpressionAttributeValues=values, **kwargs)
            for item in response.get("Items", []):
                if wanted and item.get("outcome_type", {}).get("S") not in wanted:
                    continue
                found.append((float(item["occurred_at"]["N"]), item["conversion_id"]["S"],
                              json.loads(item["row"]["S"])))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        found.sort(key=lambda entry: (entry[0], entry[1]))  # same rows → same order → same payload hash
        return [row for _, _, row in found]
