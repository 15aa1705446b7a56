"""Meta client throughput: 100,000 events (100 batches) to the emulator with 50 ms latency per request.

Floor = ceil(N / 1000) x latency / concurrency: the wall time of a client with zero overhead against a
server that answers each request in exactly `latency`. Goal: <= 1.3 x floor at concurrency 4, and a
peak RSS of the sending process under 300 MB. The emulator runs in its own process, so its memory
is not charged to the client (its VmHWM is reported separately).

The emulator really parses and validates every event, which costs CPU on a shared machine. So the
same run also measures an "ideal client" floor: bodies encoded before the clock starts, four plain
keep-alive connections, nothing else. The client's ratio to that measured floor is its own overhead.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from capi_writeback.meta import MetaClient, MetaClientConfig, MetaCredentials, StaticCredentials

EVENTS = 100_000
LATENCY_MS = 50.0
CONCURRENCY = 4
PIXEL = "1234567890"
TOKEN = "bench-token"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_events(count: int, now: int) -> list[dict[str, Any]]:
    """Realistic system_generated Purchase events with hashed identifiers (~0.5 KB each)."""
    return [
        {
            "event_name": "Purchase",
            "event_time": now - 3600,
            "event_id": f"conv-{i}",
            "action_source": "system_generated",
            "user_data": {
                "em": [_sha(f"user{i}@example.com")],
                "ph": [_sha(f"1555{i:07d}")],
                "external_id": [_sha(f"cust-{i}")],
                "country": [_sha("us")],
                "client_ip_address": "203.0.113.7",
                "fbp": f"fb.1.1700000000000.{1000000 + i}",
            },
            "custom_data": {"value": 42.5, "currency": "USD", "order_id": f"order-{i}"},
        }
        for i in range(count)
    ]


def _start_emulator() -> tuple[subprocess.Popen[str], str]:
    root = Path(__file__).resolve().parent.parent
    paths = [str(root / "local"), str(root / "layers/capi_writeback")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "capi_writeback_local.cli", "meta-emulator", "--token", TOKEN,
         "--pixel-id", PIXEL, "--latency-ms", str(LATENCY_MS), "--no-ledger-events", "--workers", "2"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"emulator did not start: {url!r}")
    return proc, url


def _peak_rss_mb_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset(url: str) -> None:
    """Forget what the emulator received (and its faults), then put the latency back."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    latency = json.dumps({"kind": "latency", "latency_ms": LATENCY_MS}).encode()
    for path, body in (("/_emulator/reset", b"{}"), ("/_emulator/faults", latency)):
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
    connection.close()


def ideal_client_seconds(url: str, events: list[dict[str, Any]]) -> float:
    """Wall time of a zero-overhead sender: pre-encoded bodies, `CONCURRENCY` keep-alive connections."""
    parts = urlsplit(url)
    bodies = [
        json.dumps({"data": events[i : i + 1000], "access_token": TOKEN}, separators=(",", ":")).encode()
        for i in range(0, len(events), 1000)
    ]
    queue = iter(range(len(bodies)))
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        while True:
            with lock:
                index = next(queue, None)
            if index is None:
                break
            connection.request("POST", f"/v25.0/{PIXEL}/events", bodies[index],
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


ROUNDS = 3  # client and ideal runs alternate; the best of each is reported (noise only adds time)


def main() -> None:
    proc, url = _start_emulator()
    walls: list[float] = []
    ideals: list[float] = []
    try:
        client = MetaClient(
            MetaClientConfig(base_url=url, concurrency=CONCURRENCY),
            StaticCredentials({"bench": MetaCredentials(TOKEN)}),
        )
        events = make_events(EVENTS, int(time.time()))
        client.send(PIXEL, "bench", events[:1000])  # warm up: connections, imports
        for _ in range(ROUNDS):
            _reset(url)
            started = time.perf_counter()
            results = client.send(PIXEL, "bench", events)
            walls.append(time.perf_counter() - started)
            received = sum(r.events_received for r in results)
            ok = all(r.status == "accepted" for r in results) and received == EVENTS
            if not ideals:  # the sender's own peak, before any ideal-client bodies exist
                client_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            _reset(url)
            ideals.append(ideal_client_seconds(url, events))
        emulator_rss = _peak_rss_mb_of(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    floor = math.ceil(EVENTS / 1000) * (LATENCY_MS / 1000) / CONCURRENCY
    wall, ideal = min(walls), min(ideals)
    print(f"events={EVENTS} batches={len(results)} latency={LATENCY_MS:.0f}ms concurrency={CONCURRENCY}")
    print(f"wall={wall:.3f}s floor={floor:.3f}s ratio={wall / floor:.2f}x (goal <= 1.30x) "
          f"[all rounds: {', '.join(f'{w / floor:.2f}x' for w in walls)}]")
    print(f"ideal_client={ideal:.3f}s ratio={ideal / floor:.2f}x (emulator CPU + machine load) "
          f"[all rounds: {', '.join(f'{w / floor:.2f}x' for w in ideals)}] client/ideal={wall / ideal:.2f}x")
    print(f"load_average_1m={os.getloadavg()[0]:.2f} cpus={os.cpu_count()}")
    print(f"events_received={received} all_accepted={ok} (last round)")
    print(f"peak_rss_sender={client_rss:.0f}MB (goal < 300MB) peak_rss_emulator={emulator_rss:.0f}MB")


if __name__ == "__main__":
    main()
