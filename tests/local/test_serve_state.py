"""`serve --state DIR` (SPEC §7): the embedded stack's data survives a restart, a SIGKILL in the middle
of a confirm included, and the same idempotency key then resends nothing Meta already accepted. The
Meta emulator runs in the test process, outside the one that is killed: its ledger is the witness."""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capi_writeback_local.meta_emulator import MetaEmulator
from capi_writeback_local.state import Journal

PIXEL = "777000111"
META_TOKEN = "meta-token-for-state-test"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Serve:
    """One `capi-writeback serve --state` process."""

    def __init__(self, state: Path, meta_url: str, log: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "META_CONCURRENCY": "1"}
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "capi_writeback_local.cli", "serve", "--port", "0", "--quiet",
                 "--state", str(state), "--meta-url", meta_url, "--pixel-id", PIXEL,
                 "--meta-token", META_TOKEN], stdout=subprocess.PIPE, stderr=stderr, env=env)
        assert self.process.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.process.stdout.readline()),  # type: ignore[union-attr]
                         daemon=True).start()
        line = lines.get(timeout=90)
        assert line, f"serve did not start: {log.read_text()}"
        self.info: dict[str, Any] = json.loads(line)
        self.profile = f"{self.info['api_url']}/v1/profiles/{self.info['profile_id']}"

    def call(self, method: str, path: str, body: Any = None, timeout: float = 120) -> tuple[int, Any]:
        request = urllib.request.Request(self.profile + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {self.info['token']}",
                                                  "Content-Type": "application/json"})
        try:
            with _opener.open(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)


@pytest.fixture
def emulator() -> Iterator[MetaEmulator]:
    with MetaEmulator(tokens=(META_TOKEN,), pixel_ids=(PIXEL,), hang_seconds=120) as meta:
        yield meta


def rows(count: int) -> list[dict[str, Any]]:
    now = int(time.time())
    return [{"conversion_id": f"st-{i:05d}", "outcome_type": "payment_received",
             "occurred_at": now - 600 - i, "email": f"buyer{i}@example.com",
             "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0", "value": 10 + i % 7,
             "currency": "USD"} for i in range(count)]


def recorded_batches(state: Path) -> int:
    """Batches the journal says the ledger recorded (the ledger's per-batch items)."""
    found = 0
    for record in Journal(state).records():
        body = base64.b64decode(record["body"])
        if b"PutItem" in record["environ"].get("HTTP_X_AMZ_TARGET", "").encode() and b"#batch#" in body:
            found += 1
    return found


def test_a_sigkill_mid_confirm_loses_nothing_and_resends_nothing(tmp_path: Path,
                                                                 emulator: MetaEmulator) -> None:
    state, log = tmp_path / "state", tmp_path / "serve.log"
    first = Serve(state, emulator.url, log)
    try:
        for start in range(0, 3000, 1000):
            status, body = first.call("POST", "/conversions", {"rows": rows(3000)[start:start + 1000]})
            assert status == 200 and body["stored"] == 1000, body
        status, preview = first.call("POST", "/writeback/preview", {"last_days": 1})
        assert status == 200 and preview["event_count"] == 3000, preview

        emulator.inject("timeout", after=1)  # batch 0 is accepted; batch 1 hangs: Meta never takes it
        answers: list[Any] = []
        confirm = {"last_days": 1, "idempotency_key": "killed-once"}
        sender = threading.Thread(target=lambda: answers.append(
            _swallow(lambda: first.call("POST", "/writeback/confirm", confirm, timeout=60))), daemon=True)
        sender.start()
        deadline = time.monotonic() + 90
        while recorded_batches(state) < 1 or len(emulator.ledger()) < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        first.stop(signal.SIGKILL)  # in the middle of the confirm: batch 0 recorded, batch 1 in flight
    sender.join(timeout=60)
    emulator.clear_faults()
    assert len(emulator.received_events(PIXEL)) == 1000

    second = Serve(state, emulator.url, log)
    try:
        kept = ("token", "read_token", "profile_id", "pixel_id")
        assert {k: second.info[k] for k in kept} == {k: first.info[k] for k in kept}
        status, done = second.call("POST", "/writeback/confirm", confirm)
        assert status == 200 and done["status"] == "succeeded", done
        assert done["replayed"] is False and done["event_count"] == 3000
        ids = Counter(e["event_id"] for e in emulator.received_events(PIXEL))
        assert len(ids) == 3000 and set(ids.values()) == {1}  # nothing sent twice, nothing lost
        status, again = second.call("POST", "/writeback/confirm", confirm)
        assert status == 200 and again["replayed"] is True
        status, audit = second.call("GET", "/writeback/audit?limit=100")
        assert status == 200, audit
        seen = Counter((row["operation"], row["status"]) for row in audit["items"])
        assert seen[("preview", "succeeded")] == 1  # written before the crash: still there
        assert seen[("confirm", "succeeded")] == 1 and seen[("confirm", "replayed")] == 1
    finally:
        second.stop()
    assert second.process.returncode == 0


def test_a_second_server_on_the_same_state_is_refused(tmp_path: Path, emulator: MetaEmulator) -> None:
    state, log = tmp_path / "state", tmp_path / "serve.log"
    first = Serve(state, emulator.url, log)
    try:
        process = subprocess.run(
            [sys.executable, "-m", "capi_writeback_local.cli", "serve", "--port", "0", "--state", str(state),
             "--meta-url", emulator.url], capture_output=True, text=True, timeout=90)
        assert process.returncode == 1 and process.stdout == ""
        assert "in use by another capi-writeback serve" in process.stderr
    finally:
        first.stop()


def _swallow(call: Any) -> Any:
    try:
        return call()
    except OSError as exc:  # the server was killed under the request
        return exc
