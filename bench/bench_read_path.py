"""Reading stored conversions (issue 10): what each way of reading a window costs the reader (the
confirm Lambda), measured in one run; the choice is in docs/architecture.md.

1. Projection. botocore parses a Query page of 1,000 items as DynamoDB sends it: every attribute
   the store writes (7) vs `row` only (ProjectionExpression "#row"). CPU per item, reader side.
   DynamoDB charges the same read units either way (by the size of the items read, not returned).
2. Pipelining. A window of 50,000 rows read in pages of 1,000 with a simulated page latency of
   BENCH_PAGE_MS (default 25 ms; DynamoDB's 1 MB pages take 10-30 ms from Lambda), each page parsed
   by botocore (on the reading thread), while the reader builds events from the rows (the real
   build): pages read one after the other; one page read ahead (what the store does); the window
   cut into four time slices read in parallel. Wall time, and its ratio to the best.
3. Fewer, larger items. 100 rows packed into one item: botocore + json CPU per row, against one
   row per item (what a store of blocks would save on reading; its cost is on writing: see docs).
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.scale_stack import stored_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "read_path.json"
PAGE_ITEMS = 1000
WINDOW_ROWS = 50_000
ROUNDS = 3
NOW = int(time.time())


def _parser() -> tuple[Any, Any]:
    import botocore.session
    from botocore.parsers import create_parser

    model = botocore.session.get_session().get_service_model("dynamodb")
    return create_parser("json"), model.operation_model("Query").output_shape


def _item(row: dict[str, Any], projected: bool) -> dict[str, Any]:
    text = json.dumps(row, separators=(",", ":"), sort_keys=True)
    if projected:
        return {"row": {"S": text}}
    return {"profile_id": {"S": "prof_bench"}, "conversion_id": {"S": row["conversion_id"]},
            "occurred_at": {"N": str(row["occurred_at"])}, "outcome_type": {"S": row["outcome_type"]},
            "row": {"S": text}, "stored_at": {"N": str(NOW)}, "ttl": {"N": str(NOW + 90 * 86400)}}


def _page(items: list[dict[str, Any]], last: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
    if last is not None:
        body["LastEvaluatedKey"] = last
    return json.dumps(body).encode()


def _parse(parser: Any, shape: Any, body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)
    return parsed


def projection() -> dict[str, float]:
    parser, shape = _parser()
    rows = list(stored_rows(PAGE_ITEMS, NOW))
    out = {}
    for name, projected in (("all_attributes", False), ("row_only", True)):
        body = _page([_item(row, projected) for row in rows])
        times = []
        for _ in range(ROUNDS * 3):
            started = time.process_time()
            for item in _parse(parser, shape, body)["Items"]:
                json.loads(item["row"]["S"])
            times.append(time.process_time() - started)
        out[name] = min(times) / PAGE_ITEMS * 1e6
    packed_rows = [json.dumps(row, separators=(",", ":"), sort_keys=True) for row in rows]
    packed = _page([{"rows": {"S": "\n".join(packed_rows[i:i + 100])}} for i in range(0, PAGE_ITEMS, 100)])
    times = []
    for _ in range(ROUNDS * 3):
        started = time.process_time()
        for item in _parse(parser, shape, packed)["Items"]:
            for line in item["rows"]["S"].split("\n"):
                json.loads(line)
        times.append(time.process_time() - started)
    out["packed_100_rows_per_item"] = min(times) / PAGE_ITEMS * 1e6
    return out


class SlowDynamo:
    """A DynamoDB client for the by_occurred_at Query only: pages of PAGE_ITEMS rows of a window,
    each answered after `latency` seconds (the network) and parsed by botocore (the reader's CPU)."""

    def __init__(self, rows: list[dict[str, Any]], latency: float) -> None:
        self.rows = rows  # in occurred_at order
        self.latency = latency
        self.parser, self.shape = _parser()
        self.items = [_item(row, True) for row in rows]

    def query(self, **request: Any) -> dict[str, Any]:
        values = request["ExpressionAttributeValues"]
        start, end = float(values[":start"]["N"]), float(values[":end"]["N"])
        rows = self.rows
        first = int(request.get("ExclusiveStartKey", {}).get("at", {}).get("N", "-1")) + 1
        if first == 0:
            first = next((i for i, row in enumerate(rows) if row["occurred_at"] >= start), len(rows))
        position = first
        while position < len(rows) and position - first < PAGE_ITEMS and rows[position]["occurred_at"] <= end:
            position += 1
        more = position < len(rows) and rows[position]["occurred_at"] <= end
        time.sleep(self.latency)
        body = _page(self.items[first:position], {"at": {"N": str(position - 1)}} if more else None)
        return _parse(self.parser, self.shape, body)


def _consume(rows: Iterator[dict[str, Any]]) -> int:
    from capi_writeback.events import stream_events
    from capi_writeback.settings import ProfileSettings

    events = 0
    for chunk in stream_events(rows, ProfileSettings(country="US", currency="USD"), NOW, hash_payload=False):
        events += len(chunk.events)
    return events


def _sliced(client: SlowDynamo, start: float, end: float, slices: int) -> Iterator[dict[str, Any]]:
    """The window cut into `slices` time ranges, each read by its own thread (two pages ahead at
    most), consumed in order: the alternative to one page read ahead."""
    from capi_writeback.store.conversions.dynamodb import DynamoConversionStore

    cuts = [int(start + (end - start) * i / slices) for i in range(slices)] + [int(end) + 1]
    bounds = [(cuts[i], cuts[i + 1] - 1) for i in range(slices)]  # whole seconds: no row falls between
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=2 * PAGE_ITEMS) for _ in bounds]
    done = object()

    def read(index: int) -> None:
        store = DynamoConversionStore(table_name="t", client=client, read_ahead=False)
        for row in store.query("prof_bench", bounds[index][0], bounds[index][1]):
            queues[index].put(row)
        queues[index].put(done)

    threads = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(slices)]
    for thread in threads:
        thread.start()
    for q in queues:
        while (row := q.get()) is not done:
            yield row


def pipelining(latency: float) -> dict[str, float]:
    from capi_writeback.store.conversions.dynamodb import DynamoConversionStore

    rows = sorted(stored_rows(WINDOW_ROWS, NOW), key=lambda r: (r["occurred_at"], r["conversion_id"]))
    client = SlowDynamo(rows, latency)
    start, end = rows[0]["occurred_at"], rows[-1]["occurred_at"]
    ways = {
        "sequential_pages": lambda: DynamoConversionStore(table_name="t", client=client, read_ahead=False)
        .query("prof_bench", start, end),
        "one_page_ahead": lambda: DynamoConversionStore(table_name="t", client=client, read_ahead=True)
        .query("prof_bench", start, end),
        "four_parallel_slices": lambda: _sliced(client, start, end, 4),
    }
    walls: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(ROUNDS):
        for name, read in ways.items():
            started = time.perf_counter()
            assert _consume(read()) == WINDOW_ROWS
            walls[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in walls.items()}


def main() -> None:
    latency = float(os.environ.get("BENCH_PAGE_MS", "25")) / 1000
    load = os.getloadavg()[0]
    parse = projection()
    print(f"reader CPU per item, a page of {PAGE_ITEMS} (botocore parse + json.loads of the row):")
    for name, micros in parse.items():
        print(f"  {name:26s} {micros:6.1f} us/row ({micros / parse['row_only']:.2f}x row_only)")
    walls = pipelining(latency)
    best = min(walls.values())
    floor = WINDOW_ROWS / PAGE_ITEMS * latency
    print(f"read + build {WINDOW_ROWS:,} rows, pages of {PAGE_ITEMS} answered after {latency * 1000:.0f} ms "
          f"(latency alone: {floor:.2f} s), median of {ROUNDS}:")
    for name, wall in walls.items():
        print(f"  {name:26s} {wall:6.2f} s ({wall / best:.2f}x the best)")
    print(f"load average (1 min): {load:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"cpus={os.cpu_count()}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"reader_us_per_row": parse, "window_seconds": walls,
                                   "page_latency_ms": latency * 1000, "rows": WINDOW_ROWS,
                                   "load_average_1m": load}, indent=2) + "\n")


if __name__ == "__main__":
    main()
