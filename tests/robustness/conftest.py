"""The robustness suite runs against what `capi-writeback serve` runs (embedded AWS, the Meta emulator,
the API Gateway stand-in with the real handlers, real HTTP on 127.0.0.1), started in this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from capi_writeback_local.local_api import LocalApi


def _fresh_layer_state() -> None:
    """The layer caches clients, secrets and services per process: forget them around a stack."""
    from aws_lambda_powertools.utilities import parameters
    from capi_writeback import store
    from capi_writeback.flow import set_default_services

    store.reset_client()
    set_default_services(None)
    parameters.clear_caches()


@pytest.fixture(scope="package")
def api() -> Iterator[LocalApi]:
    _fresh_layer_state()
    with LocalApi(port=0) as running:
        yield running
    _fresh_layer_state()
