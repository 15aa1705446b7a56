"""Rule 11 (fault injection), the ledger, the control endpoints and the `meta-emulator` command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from capi_writeback_local.meta_emulator import Fault, MetaEmulator

from .conftest import PIXEL, Client, assert_accepted, assert_envelope, event

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("kind", "status", "code", "transient"),
    [
        ("http_500", 500, 1, True),
        ("code_2", 500, 2, True),
        ("code_4", 400, 4, True),
        ("code_17", 400, 17, True),
        ("code_613", 400, 613, True),
        ("code_80004", 400, 80004, True),
        ("code_190", 400, 190, False),
    ],
)
def test_error_faults_answer_like_meta_for_the_next_n_requests(
    client: Client, emulator: MetaEmulator, kind: str, status: int, code: int, transient: bool
) -> None:
    emulator.inject(kind, count=2)
    for _ in range(2):
        error = assert_envelope(client.send_json([event()]), code, status=status)
        assert error["is_transient"] is transient
    assert_accepted(client.send_json([event()]))
    assert [e["fault"] for e in emulator.ledger()] == [kind, kind, None]
    assert len(emulator.received_events(PIXEL)) == 1  # faulted requests store nothing


def test_http_503_is_not_a_graph_body(client: Client, emulator: MetaEmulator) -> None:
    emulator.inject("http_503", count=1)
    answer = client.send_json([event()])
    assert answer.status == 503 and isinstance(answer.body, str)


def test_fractions_are_seeded_and_bounded(client: Client, emulator: MetaEmulator) -> None:
    emulator.inject("code_2", fraction=0.0)
    for _ in range(5):
        assert_accepted(client.send_json([event()]))
    emulator.clear_faults()
    emulator.inject("code_2", fraction=1.0)
    for _ in range(3):
        assert_envelope(client.send_json([event()]), 2, status=500)
    emulator.clear_faults()
    emulator.inject("code_2", fraction=0.5)
    statuses = [client.send_json([event()]).status for _ in range(40)]
    assert 5 < statuses.count(500) < 35 and statuses.count(200) == 40 - statuses.count(500)


def test_latency_delays_the_answer(client: Client, emulator: MetaEmulator) -> None:
    emulator.inject("latency", latency_ms=150, count=1)
    started = time.monotonic()
    assert_accepted(client.send_json([event()]))
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    assert_accepted(client.send_json([event()]))
    assert time.monotonic() - started < 0.15


def test_timeout_fault_never_answers(client: Client, emulator: MetaEmulator) -> None:
    emulator.inject("timeout", count=1)
    with pytest.raises((TimeoutError, socket.timeout)):
        client.request(
            "POST", f"/v25.0/{PIXEL}/events", b"{}", {"Content-Type": "application/json"}, timeout=0.3
        )
    assert emulator.ledger()[0]["fault"] == "timeout" and emulator.ledger()[0]["status"] is None
    assert_accepted(client.send_json([event()]))


def test_faults_over_the_control_endpoint(client: Client, emulator: MetaEmulator) -> None:
    answer = client.control("POST", "faults", {"faults": [{"kind": "code_17", "count": 1},
                                                          {"kind": "latency", "latency_ms": 1}]})
    assert answer.status == 200 and [f["kind"] for f in answer.body["faults"]] == ["code_17", "latency"]
    assert_envelope(client.send_json([event()]), 17)
    assert [f["kind"] for f in client.control("GET", "faults").body["faults"]] == ["latency"]
    assert client.control("DELETE", "faults").body == {"faults": []}
    assert client.control("POST", "faults", {"kind": "explode"}).status == 400
    assert client.control("POST", "faults", {"kind": "code_2", "count": 0}).status == 400
    assert client.control("POST", "faults", {"kind": "code_2", "bogus": 1}).status == 400
    assert client.control("GET", "nothing").status == 404


def test_fault_spec_parsing() -> None:
    assert Fault.parse("code_17:2") == Fault("code_17", count=2)
    assert Fault.parse("http_503:0.25") == Fault("http_503", fraction=0.25)
    assert Fault.parse("latency@50") == Fault("latency", latency_ms=50.0)
    with pytest.raises(ValueError):
        Fault.parse("nope:1")


def test_ledger_and_reset_over_http(client: Client, emulator: MetaEmulator) -> None:
    assert_accepted(client.send_json([event(event_id="x")], test_event_code="T1"))
    assert_envelope(client.send_json([event()], token="bad"), 190)
    ledger = client.control("GET", "ledger").body["requests"]
    assert [(e["path"], e["status"], e["test_event_code"]) for e in ledger] == [
        (f"/v25.0/{PIXEL}/events", 200, "T1"), (f"/v25.0/{PIXEL}/events", 400, None)
    ]
    assert ledger[0]["events"][0]["event_id"] == "x" and ledger[0]["token_in_url"] is False
    assert "emu-token" not in str(ledger)  # the ledger never keeps tokens
    assert client.control("GET", "stats").body["requests"] == 2
    assert client.control("POST", "reset").status == 200
    assert emulator.ledger() == [] and emulator.received_events(PIXEL, test=True) == []


def test_many_concurrent_keep_alive_clients(emulator: MetaEmulator) -> None:
    import http.client
    import json
    from concurrent.futures import ThreadPoolExecutor

    emulator.inject("latency", latency_ms=50)
    body = json.dumps({"data": [event()], "access_token": "emu-token"}).encode()

    def worker(_: int) -> list[int]:
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
        statuses = []
        for _ in range(3):  # three requests on one kept-alive connection
            connection.request("POST", f"/v25.0/{PIXEL}/events", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        connection.close()
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(worker, range(32)))
    elapsed = time.monotonic() - started
    assert all(s == [200, 200, 200] for s in results)
    assert emulator.stats()["max_in_flight"] > 8
    assert elapsed < 3.0  # 96 requests of 50 ms served concurrently, not one after another (4.8 s)


def test_cli_prints_url_first_and_stops_on_sigterm() -> None:
    paths = [str(ROOT / "local"), str(ROOT / "layers/capi_writeback")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "capi_writeback_local.cli", "meta-emulator", "--port", "0", "--token", "t1",
         "--pixel-id", "42", "--fault", "code_17:1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = Client(url)
        fresh = event(event_time=int(time.time()) - 60)  # the command runs on the real clock
        assert_envelope(client.send_json([fresh], token="t1", pixel="42"), 17)
        assert_accepted(client.send_json([fresh], token="t1", pixel="42"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_worker_processes_judge_the_same_way() -> None:
    from .conftest import NOW, TOKEN

    with MetaEmulator(tokens=(TOKEN,), pixel_ids=(PIXEL,), now=lambda: float(NOW), workers=1) as meta:
        client = Client(meta.url)
        assert_accepted(client.send_json([event(event_id="w1"), event(event_id="w2")]), 2)
        assert_envelope(client.send_json([event(user_data={"em": "raw@x.com"})]), 100, 2804016)
        assert_accepted(client.send_json([event(event_id="t")], test_event_code="T"))
        assert [e["event_id"] for e in meta.received_events(PIXEL)] == ["w1", "w2"]
        assert [e["event_id"] for e in meta.received_events(PIXEL, test=True)] == ["t"]
        ledger = meta.ledger()
        assert [e["event_count"] for e in ledger] == [2, 1, 1]
        assert ledger[0]["events"][1]["event_id"] == "w2" and ledger[0]["token_source"] == "body"
