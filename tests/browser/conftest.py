"""Browser tests: the local API with a demo push behind it, and one headless Chromium per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from capi_writeback_local.local_api import LocalApi

from tests.browser.support import chromium, demo_push


@pytest.fixture(scope="module")
def api() -> Iterator[LocalApi]:
    from tests.local.test_local_api import _forget_cached_aws

    _forget_cached_aws()
    try:
        with LocalApi() as running:
            demo_push(running)
            yield running
    finally:
        _forget_cached_aws()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


@pytest.fixture()
def page(browser: Any, api: LocalApi) -> Iterator[Any]:
    """A fresh tab state: signed out (session storage cleared)."""
    browser.get(api.url + "/v1/dashboard")
    browser.execute_script("window.sessionStorage.clear()")
    browser.get(api.url + "/v1/dashboard")
    yield browser
