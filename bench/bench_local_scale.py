"""The local stack at scale (issue 10): 50,000 stored rows (BENCH_LOCAL_ROWS) through the local API
Gateway, every call measured against its 29-second limit: storing them 1,000 a call, a preview, a
confirm and its replay. Goal: every call answers 200 within the limit.

In the same run, the preview of the first 20,000 rows with moto's own Query (which sorts the whole
table again for every page, and serializes each attribute through botocore's shapes) and with the
embedded stack's indexed Query (capi_writeback_local/moto_index.py): the ratio is the fix.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "local_scale.json"
GATEWAY_LIMIT = 29.0
COMPARE_ROWS = 20_000  # the size issue 10 measured (a 504 after 29 s then)


def rows(start: int, count: int, now: int) -> list[dict[str, Any]]:
    return [{"conversion_id": f"c{i:06d}", "outcome_type": "payment_received" if i % 4 else "lead_created",
             "occurred_at": now - 3600 - i % 80_000, "email": f"Buyer.{i}@Example.com",
             "phone": f"+1 415 555 {i % 10_000:04d}", "client_ip_address": "203.0.113.7",
             "client_user_agent": "Mozilla/5.0", "value": 10 + i % 50, "currency": "USD"}
            for i in range(start, start + count)]


def main() -> None:
    from capi_writeback_local import moto_index
    from capi_writeback_local.local_api import LocalApi

    total = int(os.environ.get("BENCH_LOCAL_ROWS", "50000"))
    load = os.getloadavg()[0]
    now = int(time.time())
    timings: dict[str, Any] = {}
    logging.disable(logging.INFO)  # the handlers' log lines and metrics are not the benchmark's output
    with LocalApi(access_log=None) as api, contextlib.redirect_stdout(io.StringIO()):
        host, port = api.url.removeprefix("http://").split(":")
        headers = {"Authorization": f"Bearer {api.seed.api_token}", "Content-Type": "application/json"}
        base = f"/v1/profiles/{api.seed.profile_id}"

        def call(path: str, body: Any) -> tuple[int, Any, float]:
            connection = http.client.HTTPConnection(host, int(port), timeout=120)
            started = time.perf_counter()
            connection.request("POST", base + path, body=json.dumps(body), headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            connection.close()
            return response.status, answer, time.perf_counter() - started

        stores: list[float] = []
        for start in range(0, total, 1000):
            status, answer, seconds = call("/conversions", {"rows": rows(start, 1000, now)})
            assert status == 200 and answer["stored"] == 1000, answer
            stores.append(seconds)
            if start + 1000 == COMPARE_ROWS:
                with moto_index.moto_only():
                    status, answer, before = call("/writeback/preview", {"last_days": 2})
                assert status == 200 and answer["event_count"] == COMPARE_ROWS, answer
                status, answer, after = call("/writeback/preview", {"last_days": 2})
                assert status == 200 and answer["event_count"] == COMPARE_ROWS, answer
                timings["preview_compare_moto_query_seconds"] = before
                timings["preview_compare_indexed_query_seconds"] = after
        timings["store_calls"] = len(stores)
        timings["store_slowest_seconds"] = max(stores)
        timings["store_total_seconds"] = sum(stores)
        for name, body in (("preview", {"last_days": 2}),
                           ("confirm", {"last_days": 2, "idempotency_key": "bench-local"}),
                           ("replay", {"last_days": 2, "idempotency_key": "bench-local"})):
            route = "/writeback/preview" if name == "preview" else "/writeback/confirm"
            status, answer, seconds = call(route, body)
            assert status == 200, (name, status, answer)
            assert answer["event_count"] == total, answer
            timings[f"{name}_seconds"] = seconds
            timings[f"{name}_status"] = status
        assert answer["replayed"] is True
    worst = max(timings["store_slowest_seconds"], timings["preview_seconds"], timings["confirm_seconds"],
                timings["replay_seconds"])
    print(f"{total:,} stored rows through the local gateway (limit {GATEWAY_LIMIT:.0f} s a call):")
    print(f"  store  {timings['store_calls']} calls of 1,000 rows: slowest "
          f"{timings['store_slowest_seconds']:.2f} s, all {timings['store_total_seconds']:.1f} s")
    print(f"  preview {timings['preview_seconds']:.2f} s; confirm {timings['confirm_seconds']:.2f} s; "
          f"replay {timings['replay_seconds']:.2f} s; all 200; slowest call = "
          f"{worst / GATEWAY_LIMIT:.2f} x the limit")
    before = timings["preview_compare_moto_query_seconds"]
    after = timings["preview_compare_indexed_query_seconds"]
    print(f"  preview of {COMPARE_ROWS:,} rows: moto's own Query {before:.2f} s, indexed {after:.2f} s "
          f"({before / after:.1f}x faster)")
    print(f"load average (1 min): {load:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"cpus={os.cpu_count()}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": total, "gateway_limit_seconds": GATEWAY_LIMIT, **timings,
                                   "slowest_call_ratio_to_limit": worst / GATEWAY_LIMIT,
                                   "load_average_1m": load}, indent=2) + "\n")


if __name__ == "__main__":
    main()
