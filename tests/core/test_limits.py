"""Meta's batch limit is one constant that both the event builder and the Meta client enforce."""

from __future__ import annotations

import pytest
from capi_writeback.events import batches
from capi_writeback.limits import MAX_BATCH_EVENTS
from capi_writeback.meta import MetaClientConfig


def test_the_builder_and_the_client_share_the_batch_limit() -> None:
    events = [{"n": i} for i in range(MAX_BATCH_EVENTS + 1)]
    assert [len(b) for b in batches(events)] == [MAX_BATCH_EVENTS, 1]
    assert MetaClientConfig().batch_size == MAX_BATCH_EVENTS
    with pytest.raises(ValueError, match=str(MAX_BATCH_EVENTS)):
        batches(events, MAX_BATCH_EVENTS + 1)
    with pytest.raises(ValueError, match=str(MAX_BATCH_EVENTS)):
        MetaClientConfig(batch_size=MAX_BATCH_EVENTS + 1)
