"""`capi-writeback serve` as a user runs it: a subprocess, real HTTP on loopback, SIGTERM to stop.

One server for the module; the tests walk the safety flow in order over it (store → preview →
dry-run → confirm → replay → audit), then check the docs and the clean shutdown.
"""

from __future__ import annotations

import http.client
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROFILE_PATH = "/v1/profiles/{profile_id}"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


class Served:
    def __init__(self, process: subprocess.Popen[bytes], info: dict[str, Any], stderr: Path) -> None:
        self.process = process
        self.info = info
        self.stderr = stderr
        self.base = info["api_url"]
        self.profile = self.base + PROFILE_PATH.format(profile_id=info["profile_id"])
        self.state: dict[str, Any] = {}

    def call(self, method: str, url: str, body: Any = None, token: str | None = "default"
             ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if token == "default":
            token = self.info["token"]
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with _opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        status, _headers, raw = self.call(method, self.profile + path, body, **kwargs)
        return status, json.loads(raw)


def _first_line(stream: Any, timeout: float) -> bytes:
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    stderr_path = tmp_path_factory.mktemp("serve") / "stderr.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "capi_writeback_local.cli", "serve", "--port", "0",
             "--pixel-id", "555000111", "--meta-token", "meta-token-for-serve-test"],
            stdout=subprocess.PIPE, stderr=stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        line = _first_line(process.stdout, timeout=60)
        assert line, f"serve exited early: {stderr_path.read_text()}"
        info = json.loads(line)
        yield Served(process, info, stderr_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_first_line_is_the_json_object_of_spec_7(served: Served) -> None:
    assert set(served.info) == {"api_url", "token", "profile_id", "pixel_id", "mcp_url", "read_token",
                                "aws_endpoint"}
    assert served.info["aws_endpoint"].startswith("http://127.0.0.1:")
    assert served.info["api_url"].startswith("http://127.0.0.1:")
    assert served.info["mcp_url"] == served.info["api_url"] + "/v1/mcp"
    assert served.info["read_token"] and served.info["read_token"] != served.info["token"]
    assert served.info["pixel_id"] == "555000111"
    assert served.info["token"] and served.info["profile_id"]


def test_no_token_is_unauthenticated(served: Served) -> None:
    status, body = served.json("POST", "/writeback/preview", {"last_days": 7}, token=None)
    assert status == 401 and body["error"]["type"] == "UNAUTHENTICATED"
    status, body = served.json("POST", "/writeback/preview", {"last_days": 7}, token="not-a-real-token")
    assert status == 401 and body["error"]["type"] == "UNAUTHENTICATED"


def test_store_rows(served: Served) -> None:
    now = int(time.time())
    rows = [{"conversion_id": f"serve-{i}", "outcome_type": "payment_received", "occurred_at": now - 600 - i,
             "email": f" Buyer{i}@Example.COM ", "phone": f"(415) 555-01{i:02d}", "value": 10 + i,
             "currency": "USD"} for i in range(12)]
    rows.append({"conversion_id": "serve-lead", "outcome_type": "lead_created", "occurred_at": now - 60,
                 "email": "lead@example.org", "client_ip_address": "203.0.113.7", "client_user_agent": "UA"})
    rows.append({"conversion_id": "serve-novalue", "outcome_type": "payment_received",
                 "occurred_at": now - 60, "email": "novalue@example.org"})
    rows.append({"outcome_type": "payment_received", "occurred_at": now})  # no conversion_id
    status, body = served.json("POST", "/conversions", {"rows": rows})
    assert status == 200, body
    assert body["stored"] == 14
    assert [r["index"] for r in body["rejected"]] == [14]


def test_preview(served: Served) -> None:
    status, body = served.json("POST", "/writeback/preview", {"last_days": 7})
    assert status == 200, body
    assert body["operation"] == "preview"
    assert body["event_count"] == 13
    assert body["events_by_name"] == {"Purchase": 12, "Lead": 1}
    assert len(body["sample_events"]) == 3
    assert [s["conversion_id"] for s in body["skipped"]] == ["serve-novalue"]
    assert "buyer0@example.com" not in json.dumps(body).lower()  # hashed, never raw
    served.state["preview"] = body


def test_dry_run(served: Served) -> None:
    preview = served.state["preview"]
    request = {"last_days": 7, "test_event_code": "TEST4242", "preview_id": preview["preview_id"]}
    status, body = served.json("POST", "/writeback/dry-run", request)
    assert status == 200, body
    assert body["events_received"] == 13 and body["test_event_code"] == "TEST4242"
    assert body["fbtrace_ids"] and body["payload_hash"] == preview["payload_hash"]


def test_confirm_then_replay(served: Served) -> None:
    preview_id = served.state["preview"]["preview_id"]
    request = {"last_days": 7, "idempotency_key": "serve-test-1", "preview_id": preview_id}
    status, first = served.json("POST", "/writeback/confirm", request)
    assert status == 200, first
    assert first["status"] == "succeeded" and first["events_received"] == 13 and first["replayed"] is False
    status, again = served.json("POST", "/writeback/confirm", request)
    assert status == 200, again
    assert again["replayed"] is True
    assert again["batches"] == first["batches"] and again["payload_hash"] == first["payload_hash"]
    row = {"conversion_id": "other", "outcome_type": "lead_created", "occurred_at": int(time.time()),
           "email": "other@example.org"}
    other = {"rows": [row], "idempotency_key": "serve-test-1"}
    status, reused = served.json("POST", "/writeback/confirm", other)
    assert status == 409 and reused["error"]["type"] == "IDEMPOTENCY_KEY_REUSED"


def test_audit_trail(served: Served) -> None:
    status, body = served.json("GET", "/writeback/audit?limit=2")
    assert status == 200, body
    items = body["items"]
    assert len(items) == 2 and body["next"]
    pages = [items]
    while body["next"]:
        status, body = served.json("GET", f"/writeback/audit?limit=2&next={body['next']}")
        assert status == 200, body
        pages.append(body["items"])
    everything = [row for page in pages for row in page]
    operations = [row["operation"] for row in everything]
    # newest first: the refused reuse, the replay, the confirm, the dry-run, the preview
    assert operations == ["confirm", "confirm", "confirm", "dry_run", "preview"]
    assert [row["status"] for row in everything[:3]] == ["refused", "replayed", "succeeded"]
    assert everything[2]["fbtrace_ids"]
    assert served.info["token"] not in json.dumps(everything)


def test_openapi_and_swagger_ui(served: Served) -> None:
    status, headers, raw = served.call("GET", served.base + "/v1/openapi.json", token=None)
    assert status == 200
    document = json.loads(raw)
    assert "/v1/profiles/{profile_id}/writeback/confirm" in document["paths"]
    status, headers, raw = served.call("GET", served.base + "/v1/docs", token=None)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"SwaggerUIBundle" in raw


@pytest.mark.parametrize("request_bytes,status,error_type", [
    (b"TRACE /v1/docs HTTP/1.1\r\nHost: x\r\n\r\n", 404, "NOT_FOUND"),
    (b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n", 404, "NOT_FOUND"),
    (b"POST /v1/docs HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "VALIDATION_ERROR"),
    (b"GET /v1/docs?token=cwb_x HTTP/1.1 junk\r\n\r\n", 400, "VALIDATION_ERROR"),
])
def test_requests_http_cannot_take_get_the_spec_error_body(
        served: Served, request_bytes: bytes, status: int, error_type: str) -> None:
    import socket

    host, port = served.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request_bytes)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
    assert response.status == status and response.getheader("Content-Type") == "application/json"
    assert body["error"]["type"] == error_type and body["error"]["fix"]
    assert body["error"]["request_id"] == response.getheader("x-amzn-RequestId")


def test_sigterm_stops_cleanly(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=30) == 0
    assert served.process.stdout is not None
    assert served.process.stdout.read() == b""  # only the first line ever goes to stdout
    with pytest.raises(urllib.error.URLError):
        _opener.open(served.base + "/v1/openapi.json", timeout=5)
    assert "Traceback" not in served.stderr.read_text()


def test_aws_mode_serves_over_the_aws_the_environment_names(tmp_path: Path) -> None:
    """`serve --aws` seeds nothing and uses the environment's AWS; here that "AWS" is a moto server."""
    from capi_writeback_local.stack import EmbeddedStack

    with EmbeddedStack() as stack:
        seed = stack.seed_demo(pixel_id="1234567890", meta_token="test-token")
        with (tmp_path / "stderr.log").open("wb") as stderr:
            command = ["serve", "--aws", "--port", "0", "--quiet"]
            process = subprocess.Popen(
                [sys.executable, "-m", "capi_writeback_local.cli", *command],
                stdout=subprocess.PIPE, stderr=stderr, env={**os.environ, **stack.env})
        try:
            assert process.stdout is not None
            info = json.loads(_first_line(process.stdout, timeout=60))
            assert info["token"] is None and info["profile_id"] is None and info["read_token"] is None
            served = Served(process, {**info, "token": seed.api_token, "profile_id": seed.profile_id},
                            tmp_path / "stderr.log")
            status, body = served.json("POST", "/writeback/preview", {"last_days": 7})
            assert status == 200, body
            assert body["event_count"] == 0
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_a_taken_port_is_a_clear_error_not_a_traceback() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "capi_writeback_local.cli", "serve", "--port", str(port)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "cannot start" in done.stderr and "Traceback" not in done.stderr
