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


def _forget_cached_aws() -> None:
    """The layer keeps one AWS client (and cached secrets) per process: earlier tests in this
    process pointed them at other moto instances."""
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import set_default_services

    store.reset_client()
    set_default_services(None)
    parameters.clear_caches()


@pytest.fixture(scope="module")
def api() -> Iterator[LocalApi]:
    _forget_cached_aws()
    try:
        with LocalApi() as running:
            yield running
    finally:
        _forget_cached_aws()


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
            body = json.loads(response.read())
            outcomes.append((response.status, body.get("operation") or body.get("error")))
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
