"""Fixtures for the emulator tests: an emulator on 127.0.0.1 with a fixed clock, and a raw HTTP helper."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from capi_writeback_local.meta_emulator import MetaEmulator

NOW = 1_790_000_000
TOKEN = "emu-token"
PIXEL = "555000111"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def event(**changes: Any) -> dict[str, Any]:
    """A valid system_generated Purchase; `changes` replace fields (None removes one)."""
    base: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 3600,
        "event_id": "order-1",
        "action_source": "system_generated",
        "user_data": {"em": [sha("a@example.com")], "ph": sha("15551234567")},
        "custom_data": {"value": 12.5, "currency": "USD"},
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        return self.body["error"]  # type: ignore[no-any-return]


class Client:
    """Raw requests to the emulator (no project client involved)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> Answer:
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode()
        return Answer(response.status, parsed)

    def send_json(
        self, events: Any, *, token: str | None = TOKEN, pixel: str = PIXEL, version: str = "v25.0",
        **extra: Any,
    ) -> Answer:
        body: dict[str, Any] = {"data": events, **extra}
        if token is not None:
            body["access_token"] = token
        headers = {"Content-Type": "application/json"}
        return self.request("POST", f"/{version}/{pixel}/events", json.dumps(body).encode(), headers)

    def send_form(self, fields: dict[str, str], query: dict[str, str] | None = None) -> Answer:
        path = f"/v25.0/{PIXEL}/events" + (f"?{urlencode(query)}" if query else "")
        return self.request(
            "POST", path, urlencode(fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def control(self, method: str, name: str, payload: Any = None) -> Answer:
        body = json.dumps(payload).encode() if payload is not None else None
        return self.request(method, f"/_emulator/{name}", body, {"Content-Type": "application/json"})


@pytest.fixture
def emulator() -> Iterator[MetaEmulator]:
    with MetaEmulator(tokens=(TOKEN,), pixel_ids=(PIXEL,), now=lambda: float(NOW), seed=3,
                      hang_seconds=3.0) as meta:
        yield meta


@pytest.fixture
def client(emulator: MetaEmulator) -> Client:
    return Client(emulator.url)


def assert_envelope(
    answer: Answer, code: int, subcode: int | None = None, status: int = 400
) -> dict[str, Any]:
    """Meta's error envelope (rule 10): message, type, code, fbtrace_id; the subcode when given."""
    assert answer.status == status, answer.body
    error = answer.error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] in ("OAuthException", "GraphMethodException")
    assert error["code"] == code
    assert isinstance(error["fbtrace_id"], str) and 20 <= len(error["fbtrace_id"]) <= 30
    assert isinstance(error["is_transient"], bool)
    if subcode is not None:
        assert error["error_subcode"] == subcode
    assert "events_received" not in answer.body
    return error


def assert_accepted(answer: Answer, count: int = 1) -> None:
    """Rule 9: 200 with events_received, messages and fbtrace_id."""
    assert answer.status == 200, answer.body
    assert answer.body["events_received"] == count
    assert isinstance(answer.body["messages"], list)
    assert isinstance(answer.body["fbtrace_id"], str) and 20 <= len(answer.body["fbtrace_id"]) <= 30
