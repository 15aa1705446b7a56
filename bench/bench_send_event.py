"""Latency of the single-event route (SPEC §8) over a direct call to the Meta emulator, warm.

Setup, like a deployed function: DynamoDB (moto's server) and the Meta emulator run in processes of
their own; this process serves the API as `capi-writeback serve` does (`LocalApi` over that AWS: the
API Gateway stand-in with the TOKEN authorizer and the real handler) and is the client of both.
Each round, one after the other, after a warm-up of WARMUP rounds:
- direct: one POST of the event, as the layer's Meta client encodes it, to the emulator on a
  keep-alive connection (what a backend calling Meta itself pays);
- route: `POST /v1/profiles/<profile>/events` on a keep-alive connection, a new event_id each time:
  a live send (token check, directory reads, ledger claim and breaker check, the Meta send, ledger
  finish and breaker update, audit row), in three variants:
  - as shipped (independent DynamoDB round trips issued together, `flow/parallel.py`);
  - as shipped, with RTT_MS added to every AWS call (a sleep around it, as a network wait: moto on
    loopback answers in about a millisecond and runs one DynamoDB request at a time, so overlapping
    round trips only shows once each has a network's latency, as real DynamoDB has);
  - the same round trips one after the other (bench-only: `parallel.start` runs the call at once),
    with RTT_MS: what issuing them together saves.
Reported: p50/p99 of each side, the added latency (route - direct), and per live send the AWS calls
made, their number and the time spent waiting for AWS (the union of the calls' intervals).

Env knobs: BENCH_SEND_EVENT_CALLS (rounds, default 200), BENCH_SEND_EVENT_RTT_MS (default 5).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "send_event.json"
WARMUP = 30
PIXEL = "1234567890"
TOKEN = "bench-token"
VARIANTS = ("shipped", "shipped_rtt", "sequential_rtt")
_MOTO = (
    "import sys\n"
    "from capi_writeback_local.moto_atomic import serialize_moto_dynamodb\n"
    "from moto.server import ThreadedMotoServer\n"
    "serialize_moto_dynamodb()\n"
    "server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)\n"
    "server.start()\n"
    "print(server.get_host_and_port()[1], flush=True)\n"
    "sys.stdin.read()\n"
)


class Connection:
    """A keep-alive HTTP/1.1 connection that times each POST (seconds)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> float:
        started = time.perf_counter()
        self.conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        response = self.conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
        return elapsed

    def close(self) -> None:
        self.conn.close()


class AwsCalls:
    """Every botocore call of this process (the handler's and the authorizer's): counted, its interval
    kept, and `rtt` seconds of network wait added to it while set."""

    def __init__(self) -> None:
        import botocore.client

        self._client = botocore.client.BaseClient
        self._real = self._client._make_api_call
        self.counts: Counter[str] = Counter()
        self.intervals: list[tuple[float, float]] = []
        self.rtt = 0.0
        self._lock = threading.Lock()
        real, calls = self._real, self

        def timed(client: Any, operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                if calls.rtt:
                    time.sleep(calls.rtt)
                return real(client, operation, params)
            finally:
                with calls._lock:
                    calls.counts[f"{client.meta.service_model.endpoint_prefix}:{operation}"] += 1
                    calls.intervals.append((started, time.perf_counter()))

        self._client._make_api_call = timed

    def reset(self, rtt: float) -> None:
        with self._lock:
            self.counts.clear()
            self.intervals.clear()
            self.rtt = rtt

    def waited(self) -> float:
        """Seconds during which at least one AWS call was in flight."""
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.intervals):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total

    def restore(self) -> None:
        self._client._make_api_call = self._real


@contextmanager
def sequential(on: bool) -> Iterator[None]:
    """While `on`, `flow/parallel.start` runs its call at once (the round trips one after the other)."""
    import importlib

    parallel = importlib.import_module("capi_writeback.flow.parallel")
    if not on:
        yield
        return

    def at_once(call: Callable[[], Any]) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            done.set_result(call())
        except BaseException as exc:  # the flow reads it from the future, as from a pool's
            done.set_exception(exc)
        return done

    saved = parallel.start
    parallel.start = at_once
    try:
        yield
    finally:
        parallel.start = saved


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _event(event_id: str, now: int) -> dict[str, Any]:
    return {
        "event_name": "Purchase", "event_time": now - 60, "action_source": "website",
        "event_source_url": "https://shop.example.com/thanks", "event_id": event_id,
        "user_data": {"email": "Jane.Doe@Example.com", "phone": "+1 (415) 555-0123",
                      "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0",
                      "fbp": "fb.1.1700000000000.1098115397"},
        "custom_data": {"value": 129.9, "currency": "USD", "order_id": event_id},
    }


def _sent_form(event_id: str, now: int) -> dict[str, Any]:
    """The event as the route sends it to Meta (hashed), so both sides post the same."""
    from capi_writeback.hashing import sha256_hex

    event = _event(event_id, now)
    user = {"em": [sha256_hex("jane.doe@example.com")], "ph": [sha256_hex("14155550123")],
            "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0",
            "fbp": "fb.1.1700000000000.1098115397"}
    return {**event, "user_data": user}


def _start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if not first:
        proc.kill()
        raise RuntimeError(f"{args[:3]} did not start")
    return proc, first


@contextmanager
def services() -> Iterator[tuple[str, str]]:
    """moto's server and the Meta emulator, each in its own process: (AWS endpoint, Meta URL)."""
    paths = [str(ROOT / "local"), str(ROOT / "layers/capi_writeback")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    moto, port = _start([sys.executable, "-c", _MOTO], env)
    meta, url = _start([sys.executable, "-m", "capi_writeback_local.cli", "meta-emulator", "--token", TOKEN,
                        "--pixel-id", PIXEL, "--no-ledger-events"], env)
    try:
        yield f"http://127.0.0.1:{port}", url
    finally:
        for proc in (meta, moto):
            if proc.stdin is not None:
                proc.stdin.close()
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    import boto3
    from capi_writeback_local.local_api import LocalApi
    from capi_writeback_local.stack import (
        FAKE_CREDENTIALS,
        EnvPatch,
        create_tables,
        forget_layer_state,
        seed_demo,
    )

    rounds = int(os.environ.get("BENCH_SEND_EVENT_CALLS", "200"))
    rtt = float(os.environ.get("BENCH_SEND_EVENT_RTT_MS", "5")) / 1000
    env = EnvPatch()
    aws = AwsCalls()
    saved_stdout = sys.stdout
    logging.disable(logging.WARNING)
    log = open(os.devnull, "w")  # noqa: SIM115 - the functions' log lines, for the whole run
    samples: dict[str, list[float]] = {"direct": [], **{v: [] for v in VARIANTS}}
    waited: dict[str, list[float]] = {v: [] for v in VARIANTS}
    per_send: Counter[str] = Counter()
    try:
        with services() as (endpoint, meta_url):
            env.set({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                     "AWS_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "WARNING"})
            dynamodb, secrets = boto3.client("dynamodb"), boto3.client("secretsmanager")
            tables = create_tables(dynamodb)
            env.set(tables)
            seed = seed_demo(dynamodb, secrets, tables, pixel_id=PIXEL, meta_token=TOKEN)
            forget_layer_state()
            with LocalApi(meta_url=meta_url, meta_token=TOKEN, pixel_id=PIXEL, embedded=False) as api:
                sys.stdout = log
                route, direct = Connection(api.url), Connection(meta_url)
                path = f"/v1/profiles/{seed.profile_id}/events"
                auth = {"Authorization": f"Bearer {seed.api_token}"}
                for i in range(WARMUP + rounds):
                    now = int(time.time())
                    tag = f"{time.time_ns()}-{i}"
                    body = json.dumps({"data": [_sent_form(f"d-{tag}", now)], "access_token": TOKEN}).encode()
                    elapsed = direct.post(f"/v25.0/{PIXEL}/events", body, {})
                    if i >= WARMUP:
                        samples["direct"].append(elapsed * 1000)
                    for variant in VARIANTS:
                        aws.reset(rtt if variant.endswith("_rtt") else 0.0)
                        with sequential(variant.startswith("sequential")):
                            body = json.dumps(_event(f"{variant}-{tag}", now)).encode()
                            elapsed = route.post(path, body, auth)
                        if i >= WARMUP:
                            samples[variant].append(elapsed * 1000)
                            waited[variant].append(aws.waited() * 1000)
                            if variant == "shipped":
                                per_send = Counter(aws.counts)
                route.close()
                direct.close()
    finally:
        sys.stdout = saved_stdout
        aws.restore()
        env.restore()
        forget_layer_state()
        logging.disable(logging.NOTSET)
        log.close()
    _report(samples, waited, per_send, rounds, rtt)


def _report(samples: dict[str, list[float]], waited: dict[str, list[float]], per_send: Counter[str],
            rounds: int, rtt: float) -> None:
    figures: dict[str, Any] = {"rounds": rounds, "rtt_ms_added_per_aws_call": rtt * 1000,
                               "aws_calls_per_live_send": dict(sorted(per_send.items())),
                               "load_average_1m": round(os.getloadavg()[0], 2)}
    direct_p50, direct_p99 = statistics.median(samples["direct"]), _percentile(samples["direct"], 0.99)
    print(f"-- {rounds} rounds, warm (after {WARMUP}): one direct call, then one live send per variant")
    print(f"   {'':34} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10} {'added p99':>10} {'AWS wait p50':>13}")
    print(f"   {'direct to the Meta emulator':34} {direct_p50:8.2f} {direct_p99:8.2f}")
    figures["direct"] = {"p50_ms": round(direct_p50, 2), "p99_ms": round(direct_p99, 2)}
    labels = {"shipped": "POST .../events", "shipped_rtt": f"  same, +{rtt * 1000:g} ms per AWS call",
              "sequential_rtt": "  round trips one by one, +RTT"}
    for variant in VARIANTS:
        p50, p99 = statistics.median(samples[variant]), _percentile(samples[variant], 0.99)
        wait = statistics.median(waited[variant])
        added_p50, added_p99 = p50 - direct_p50, p99 - direct_p99
        figures[variant] = {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
                            "added_p50_ms": round(added_p50, 2), "added_p99_ms": round(added_p99, 2),
                            "aws_wait_p50_ms": round(wait, 2)}
        print(f"   {labels[variant]:34} {p50:8.2f} {p99:8.2f} {added_p50:10.2f} {added_p99:10.2f} "
              f"{wait:13.2f}")
    calls = ", ".join(f"{name} {count}" for name, count in figures["aws_calls_per_live_send"].items())
    print(f"   AWS calls per live send (authorizer included): {calls} ({sum(per_send.values())} in all)")
    print(f"   load average {figures['load_average_1m']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
