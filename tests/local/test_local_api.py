"""The local API assembled in-process (embedded stack + Meta emulator + gateway + front door)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from capi_writeback_local.local_api import LocalApi

CONCURRENT = 40


@pytest.fixture(scope="module")
def api() -> Iterator[LocalApi]:
    with LocalApi() as running:
        yield running


def test_many_clients_connecting_at_once_all_get_an_answer(api: LocalApi) -> None:
    """Every client opens its connection at the same moment: none may be reset for want of a
    listen backlog (with http.server's default of 5, 30 concurrent confirms got 14 resets)."""
    host, port = api.url.removeprefix("http://").split(":")
    path = f"/v1/profiles/{api.seed.profile_id}/writeback/preview"
    headers = {"Authorization": f"Bearer {api.seed.api_token}", "Content-Type": "application/json"}
    start = threading.Barrier(CONCURRENT)
    outcomes: list[Any] = []

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        start.wait()
        try:
            connection.request("POST", path, body=json.dumps({"last_days": 7}), headers=headers)
            response = connection.getresponse()
            outcomes.append((response.status, json.loads(response.read())["operation"]))
        except OSError as exc:  # a reset connection, a refused one...
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [(200, "preview")] * CONCURRENT
