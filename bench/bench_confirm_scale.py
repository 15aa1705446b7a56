"""A confirm of N stored events (default 200,000; BENCH_CONFIRM_EVENTS=1000000 for the issue's
million) and its replay, each in a fresh process as one Lambda invocation (issue 10, SPEC §12).

The stored rows live in moto in a process of its own (bench/scale_stack.py: DynamoDB's memory is not
the Lambda's), loaded straight into moto; the confirm reads them with the real DynamoDB store (Query
pages over HTTP), builds, hashes and spools the payload, then sends it to the Meta emulator (another
process) with 50 ms latency per request at concurrency 4, recording every batch in the ledger.

- Wall time against the floor ceil(N/1000) x latency / concurrency (a sender with no cost at all
  against a server answering each batch in exactly 50 ms), and split: building (read + build + hash
  + spool) vs sending. Overlapping the two could save at most the smaller of them.
- Peak RSS of the confirm process. Goal: 1M events under 1 GB.
- The replay (same key, same request): answered from the ledger without building. Goal: <= 1/10 of
  the confirm's wall time.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "confirm_scale.json"
LATENCY_MS = 50.0
CONCURRENCY = 4
PIXEL = "1234567890"
TOKEN = "bench-token"
GOAL_RSS_MB = 1024
GOAL_REPLAY_RATIO = 0.1


def _env() -> dict[str, str]:
    paths = [str(ROOT), str(ROOT / "local"), str(ROOT / "layers/capi_writeback")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, *command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, env=_env())
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        process.kill()
        raise RuntimeError(f"{command[1]} did not start")
    return process, line


def _run(stack: str, meta_url: str, key: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.confirm_run", stack, meta_url, key],
                          capture_output=True, text=True, env=_env(), check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"confirm run failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
    return result


def main() -> None:
    events = int(os.environ.get("BENCH_CONFIRM_EVENTS", "200000"))
    load_start = os.getloadavg()[0]
    emulator, meta_url = _start(["-m", "capi_writeback_local.cli", "meta-emulator", "--token", TOKEN,
                                 "--pixel-id", PIXEL, "--latency-ms", str(LATENCY_MS), "--no-ledger-events",
                                 "--workers", "2"])
    stack_process, stack = _start(["-m", "bench.scale_stack", str(events), TOKEN, PIXEL])
    try:
        loaded = json.loads(stack)["load_seconds"]
        print(f"stored {events:,} rows in moto in {loaded} s (bulk load)", flush=True)
        confirm = _run(stack, meta_url, "bench-key")
        replay = _run(stack, meta_url, "bench-key")
    finally:
        for process in (stack_process, emulator):
            if process.stdin is not None:
                process.stdin.close()
            process.terminate()
            process.wait(timeout=30)
    floor = math.ceil(events / 1000) * (LATENCY_MS / 1000) / CONCURRENCY
    sending = confirm["wall_seconds"] - confirm.get("build_seconds", 0.0)
    results = {
        "events": events, "latency_ms": LATENCY_MS, "concurrency": CONCURRENCY, "floor_seconds": floor,
        "confirm": confirm, "replay": replay,
        "confirm_ratio_to_floor": confirm["wall_seconds"] / floor,
        "send_phase_ratio_to_floor": sending / floor,
        "replay_ratio_to_confirm": replay["wall_seconds"] / confirm["wall_seconds"],
        "load_average_1m_start": round(load_start, 2), "load_average_1m_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    ok = confirm["status"] == "succeeded" and confirm["events_received"] == events and replay["replayed"]
    print(f"events={events:,} batches={confirm['batches']} latency={LATENCY_MS:.0f}ms "
          f"concurrency={CONCURRENCY} all_received={ok}")
    print(f"confirm wall={confirm['wall_seconds']:.1f}s floor={floor:.2f}s "
          f"ratio={results['confirm_ratio_to_floor']:.2f}x; of which build+hash+spool "
          f"{confirm.get('build_seconds', 0):.1f}s ({confirm.get('spool_mb', 0):.0f} MB spooled), "
          f"send {sending:.1f}s = {results['send_phase_ratio_to_floor']:.2f}x the floor")
    print(f"confirm CPU={confirm['cpu_seconds']:.1f}s in the confirm process; "
          f"peak RSS={confirm['peak_rss_mb']:.0f} MB (goal < {GOAL_RSS_MB} MB at 1M events)")
    print(f"replay wall={replay['wall_seconds'] * 1000:.0f} ms = {results['replay_ratio_to_confirm']:.4f} x "
          f"the confirm (goal <= {GOAL_REPLAY_RATIO}); replay peak RSS={replay['peak_rss_mb']:.0f} MB")
    print(f"load average (1 min): {results['load_average_1m_start']} at start, "
          f"{results['load_average_1m_end']} at end; cpus={os.cpu_count()}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
