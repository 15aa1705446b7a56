"""One warehouse-sync child (issue 12) on a 200,000-row export: its throughput against the build
floor of `bench_build`, its peak RSS, and the ledger's DynamoDB calls and capacity units.

- The export: bench_pipeline's messy rows (times moved to the last 6 days), as JSON Lines, gzip;
  the sync maps every column to its row key, `conversion_id` is the primary key, mode live.
- The child is a whole process (`python -m bench.bench_sync child ...`) running the layer's real
  code: S3Source's streaming and gzip decoding (the body read from the local file), the mapping, the
  streaming core, the ledger rules on the DynamoDB store with a real boto3 client whose requests are
  answered in the process (botocore's `before-send` event: every request is serialized and every
  answer parsed as over the network, and counted), the Meta client against the emulator (its own
  process, `--no-ledger-events`; its CPU is not the child's). Every row is new, so every key is
  read, claimed and marked.
- The floor: `bench/floor_build.py` on the same rows (uncompressed JSONL): read, sha256 of nine
  fields, json.dumps, write.
Both are charged their own CPU (user + system, from wait4), best of BENCH_SYNC_ROUNDS interleaved
rounds; the child's peak RSS is its ru_maxrss. Goal: a child handles 200,000 rows in well under its
15 minutes (rows/s reported), with a peak RSS under 256 MB.

Env knobs: BENCH_SYNC_ROWS (default 200000), BENCH_SYNC_ROUNDS (default 3).
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from bench.bench_build import FLOOR, Run, run
from bench.bench_pipeline import NOW, iter_messy_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sync.json"
TOKEN = "bench-token"
PIXEL = "1234567890"
GOAL_RSS_MB = 256
COLUMNS = (
    "outcome_type",
    "occurred_at",
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "state",
    "zip",
    "country",
    "gender",
    "client_ip_address",
    "client_user_agent",
    "fbp",
    "value",
    "currency",
)


def write_export(path: Path, plain: Path, count: int) -> None:
    shift = int(time.time()) - NOW  # the rows' times, moved to the last 6 days
    with gzip.open(path, "wt", encoding="utf-8") as packed, plain.open("w", encoding="utf-8") as out:
        for row in iter_messy_rows(count):
            row["occurred_at"] += shift
            line = json.dumps(row) + "\n"
            packed.write(line)
            out.write(line)


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "local"), str(ROOT / "layers/capi_writeback")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "capi_writeback_local.cli",
            "meta-emulator",
            "--token",
            TOKEN,
            "--pixel-id",
            PIXEL,
            "--no-ledger-events",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"emulator did not start: {url!r}")
    return proc, url


def child(export: str, meta_url: str, report: str) -> None:
    """The child process: one work item over the whole export, then its counts to `report`."""
    import boto3
    from botocore.awsrequest import AWSResponse
    from capi_writeback.contracts.syncs import ChildTask
    from capi_writeback.flow import Services
    from capi_writeback.flow.syncs.child import process_item
    from capi_writeback.flow.syncs.services import SyncServices
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.config import MetaClientConfig
    from capi_writeback.meta.credentials import MetaCredentials, StaticCredentials
    from capi_writeback.rails.audit.log import AuditLog
    from capi_writeback.rails.audit.persistence.memory import MemoryAuditStore
    from capi_writeback.rails.breaker.circuit import CircuitBreaker
    from capi_writeback.rails.breaker.persistence.memory import MemoryBreakerStore
    from capi_writeback.store.directory.memory import MemoryDirectoryStore
    from capi_writeback.syncs.persistence.dynamodb import DynamoKeyLedgerStore
    from capi_writeback.syncs.source import S3Source

    calls: dict[str, int] = {}
    units = {"read": 0.0, "write": 0.0}

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_kw: Any) -> Any:
            yield self._body

    def answer(request: Any, **_kw: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"]
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        params = json.loads(request.body)
        calls[operation] = calls.get(operation, 0) + 1
        if operation == "TransactWriteItems":  # 2 write units an item (items < 1 KB)
            units["write"] += 2 * len(params["TransactItems"])
            body: dict[str, Any] = {}
        elif operation == "BatchWriteItem":
            units["write"] += sum(len(v) for v in params["RequestItems"].values())
            body = {"UnprocessedItems": {}}
        else:  # BatchGetItem, consistent: 1 read unit an item (< 4 KB); nothing sent yet
            units["read"] += sum(len(v["Keys"]) for v in params["RequestItems"].values())
            body = {"Responses": {table: [] for table in params["RequestItems"]}}
        data = json.dumps(body).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(data))

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    from botocore.config import Config

    # As the ledger's own client is in a function: no client-side parameter validation.
    dynamodb = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(parameter_validation=False),
    )
    dynamodb.meta.events.register("before-send.dynamodb.*", answer)

    class Body:
        def __init__(self) -> None:
            self._file = open(export, "rb")  # noqa: SIM115 - closed by close()

        def read(self, size: int) -> bytes:
            return self._file.read(size)

        def close(self) -> None:
            self._file.close()

    class FileSource(S3Source):
        def _get(self, bucket: str, key: str, etag: str, first: int, last: int | None) -> Any:
            return Body()

    class Runs:
        pages = 0
        part: ClassVar[dict[str, Any]] = {}
        record: ClassVar[dict[str, Any]] = {
            "run_id": "run_20261124T120000Z_00000000",
            "sync_id": "sync_0123456789abcdef0123",
            "profile_id": "prof_bench",
            "mode": "live",
            "definition": {"mapping": {c: {"column": c} for c in COLUMNS}, "primary_key": "conversion_id"},
        }

        def get_run(self, sync_id: str, run_id: str) -> dict[str, Any]:
            return dict(self.record)

        def put_outcomes(self, *args: Any) -> None:
            Runs.pages += 1

        def put_part(self, sync_id: str, run_id: str, part: dict[str, Any]) -> None:
            Runs.part.update(part)

    directory = MemoryDirectoryStore()
    directory.put_workspace("ws_bench", name="bench", writeback_enabled=True)
    directory.put_profile(
        "prof_bench",
        workspace_id="ws_bench",
        name="bench",
        settings={"country": "US"},
        connection={"pixel_id": PIXEL, "secret_id": "s", "status": "active"},
    )
    credentials = StaticCredentials({"s": MetaCredentials(TOKEN)})
    base = Services(
        directory=directory,
        breaker=CircuitBreaker(MemoryBreakerStore()),
        audit=AuditLog(MemoryAuditStore()),
        conversions=object(),
        ledger=object(),  # type: ignore[arg-type]
        meta_factory=lambda _v: MetaClient(MetaClientConfig(base_url=meta_url), credentials),
    )
    services = SyncServices(
        base,
        runs=Runs(),
        ledger=DynamoKeyLedgerStore("ledger", dynamodb),  # type: ignore[arg-type]
        source=FileSource(client=object()),
    )
    task = ChildTask.model_validate(
        {
            "run": {k: Runs.record[k] for k in ("run_id", "sync_id", "profile_id")},
            "item": {
                "item": 0,
                "bucket": "exports",
                "key": "export.jsonl.gz",
                "size": 1,
                "start": 0,
                "end": 1,
                "part": 0,
                "parts": 1,
                "format": "jsonl",
            },
        }
    )
    result = process_item(task, None, services)
    Path(report).write_text(
        json.dumps(
            {
                "result": result,
                "calls": calls,
                "units": units,
                "pages": Runs.pages,
                "skipped": Runs.part.get("skipped"),
            }
        )
    )


def reset(url: str) -> None:
    import urllib.request

    request = urllib.request.Request(
        url + "/_emulator/reset", data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def main() -> None:
    rows = int(os.environ.get("BENCH_SYNC_ROWS", "200000"))
    rounds = int(os.environ.get("BENCH_SYNC_ROUNDS", "3"))
    results: dict[str, Any] = {
        "rows": rows,
        "rounds": rounds,
        "load_average_1m_start": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    proc, url = start_emulator()
    try:
        with tempfile.TemporaryDirectory(prefix="cwb-sync-") as name:
            tmp = Path(name)
            export, plain, report = tmp / "export.jsonl.gz", tmp / "rows.jsonl", tmp / "report.json"
            write_export(export, plain, rows)
            child_args = ["-m", "bench.bench_sync", "child", str(export), url, str(report)]
            run([str(FLOOR), str(plain)], tmp / "out")  # warm-up: page cache, bytecode
            floors: list[Run] = []
            children: list[Run] = []
            for _ in range(rounds):
                floors.append(run([str(FLOOR), str(plain)], tmp / "out"))
                reset(url)
                children.append(run(child_args, tmp / "out"))
                counts = json.loads(report.read_text())
                assert counts["result"]["events_received"] == rows, counts["result"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    floor, sync = min(floors, key=lambda r: r.cpu), min(children, key=lambda r: r.cpu)
    ratio = floor.cpu / sync.cpu
    each = [f.cpu / c.cpu for f, c in zip(floors, children, strict=True)]
    peak = max(c.rss_mb for c in children)
    print(
        f"rows: {rows} (all new, live); whole processes, CPU seconds (user+system), best of {rounds} rounds"
    )
    print(
        f"floor (read, sha256 of 9 fields, json.dumps, write): {floor.cpu:6.2f} s  "
        f"{rows / floor.cpu:8,.0f} rows/s"
    )
    print(
        f"sync child (gzip -> map -> build -> ledger -> Meta): {sync.cpu:6.2f} s  "
        f"{rows / sync.cpu:8,.0f} rows/s  wall {sync.wall:5.1f} s"
    )
    print(
        f"child/floor speed: {ratio:.2f} (best/best) [each round: {', '.join(f'{r:.2f}' for r in each)}; "
        f"median {statistics.median(each):.2f}]"
    )
    verdict = "met" if peak <= GOAL_RSS_MB else "NOT met"
    print(f"peak RSS of the child: {peak:.0f} MB (goal <= {GOAL_RSS_MB} MB: {verdict})")
    calls, units = counts["calls"], counts["units"]
    print(
        f"ledger for {rows:,} new keys: {sum(calls.values()):,} DynamoDB calls {calls} "
        f"= {units['read']:,.0f} read units + {units['write']:,.0f} write units "
        f"(a conditional write a row would be {rows:,} calls)"
    )
    print(f"outcome pages written: {counts['pages']}; load average (1 min) at end {os.getloadavg()[0]:.2f}")
    results.update(
        {
            "floor": floor._asdict(),
            "child": sync._asdict(),
            "ratio": round(ratio, 3),
            "round_ratios": [round(r, 3) for r in each],
            "rows_per_second": round(rows / sync.cpu),
            "peak_rss_mb": round(peak, 1),
            "ledger_calls": calls,
            "ledger_units": units,
            "load_average_1m_end": round(os.getloadavg()[0], 2),
        }
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child(*sys.argv[2:5])
    else:
        main()
