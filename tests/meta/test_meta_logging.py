"""The client logs through the service's Powertools logger: its lines carry the correlation id and
the service name like every other line of a request."""

from __future__ import annotations

import io
import json
import logging

from capi_writeback.observability import logger
from capi_writeback_local.meta_emulator import MetaEmulator

from .conftest import PIXEL, SECRET_ID, ClientFactory, make_events


def test_client_lines_carry_the_correlation_id_and_fields(emulator: MetaEmulator,
                                                         make_client: ClientFactory) -> None:
    emulator.inject("code_17", count=1)  # one retry: a warning line, then the batch line
    handler = logger.registered_handler  # the service logger's own handler and JSON formatter
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    stream = handler.setStream(output)
    logger.set_correlation_id("corr-meta-1")
    try:
        make_client().send(PIXEL, SECRET_ID, make_events(2))
    finally:
        logger.set_correlation_id(None)
        handler.setStream(stream)
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    retry, done = by_message["meta request failed; retrying"], by_message["meta batch done"]
    for line in (retry, done):
        assert line["correlation_id"] == "corr-meta-1"
        assert line["service"] == "capi-writeback"
    assert (retry["level"], retry["code"], retry["batch"]) == ("WARNING", 17, 0)
    assert (done["level"], done["status"], done["event_count"]) == ("INFO", "accepted", 2)
