"""Conversion rows on CONVERSIONS_TABLE. The row is kept as JSON (exact round trip, no Decimal
surprises) beside the key and index attributes; windows are a Query on GSI `by_occurred_at`.

Reading a window is the confirm's longest read (a million rows is about 600 pages of 1 MB), so it
does as little per item as it can (measured in bench/bench_read_path.py; docs/architecture.md):
- the Query projects the `row` attribute only: DynamoDB charges the same read units either way,
  but botocore parses one attribute per item instead of seven (the key attributes are in the row);
- the next page is fetched on a helper thread while the caller builds events from the current one,
  so the page latency hides behind the work (pages stay in order: one reader, one page ahead);
- rows are yielded as pages arrive, never collected; equal occurred_at values are ordered by
  conversion_id (`in_time_order`), so the same rows always give the same payload hash.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from capi_writeback.store._dynamo import Backend, batch_write, num
from capi_writeback.store.conversions.base import (
    TTL_SECONDS,
    conversion_id_of,
    in_time_order,
    occurred_at_seconds,
)

MAX_OUTCOME_FILTER = 99  # values in one IN (...) of a FilterExpression (DynamoDB allows 100 operands)


class DynamoConversionStore(Backend):
    """ConversionStore on CONVERSIONS_TABLE."""

    env_var = "CONVERSIONS_TABLE"
    index_name = "by_occurred_at"

    def __init__(self, table_name: str | None = None, client: Any = None,
                 clock: Callable[[], float] = time.time, ttl_seconds: float = TTL_SECONDS,
                 page_size: int | None = None, read_ahead: bool = True) -> None:
        super().__init__(table_name, client, clock)
        self.ttl_seconds = ttl_seconds
        self.page_size = page_size  # items per Query page (None: DynamoDB's 1 MB pages)
        self.read_ahead = read_ahead  # fetch the next page while the current one is consumed

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
              outcome_types: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        wanted = sorted(set(outcome_types)) if outcome_types is not None else []
        names = {"#ttl": "ttl", "#row": "row"}
        values: dict[str, Any] = {":p": {"S": profile_id}, ":start": num(start), ":end": num(end),
                                  ":now": num(int(self.clock()))}
        filters = ["(attribute_not_exists(#ttl) OR #ttl > :now)"]
        if wanted and len(wanted) <= MAX_OUTCOME_FILTER:
            for i, outcome in enumerate(wanted):
                values[f":o{i}"] = {"S": outcome}
            filters.append(f"outcome_type IN ({', '.join(f':o{i}' for i in range(len(wanted)))})")
        request: dict[str, Any] = {
            "TableName": self.table, "IndexName": self.index_name,
            "KeyConditionExpression": "profile_id = :p AND occurred_at BETWEEN :start AND :end",
            "FilterExpression": " AND ".join(filters), "ProjectionExpression": "#row",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        if self.page_size:
            request["Limit"] = self.page_size
        return in_time_order(self._rows(request, set(wanted)))

    def _rows(self, request: dict[str, Any], wanted: set[str]) -> Iterator[dict[str, Any]]:
        loads = json.loads
        for items in self._pages(request):
            for item in items:
                row: dict[str, Any] = loads(item["row"]["S"])
                if not wanted or row.get("outcome_type") in wanted:
                    yield row

    def _pages(self, request: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The Query's pages in order; with read_ahead, page k+1 is requested before page k is
        handed out (one helper thread, so at most two pages exist at a time)."""
        query = self.ddb.query
        if not self.read_ahead:
            while True:
                response = query(**request)
                yield response.get("Items", [])
                if "LastEvaluatedKey" not in response:
                    return
                request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="conversions-read") as reader:
            pending = reader.submit(query, **request)
            while True:
                response = pending.result()
                last = response.get("LastEvaluatedKey")
                if last is not None:
                    pending = reader.submit(query, **{**request, "ExclusiveStartKey": last})
                yield response.get("Items", [])
                if last is None:
                    return
