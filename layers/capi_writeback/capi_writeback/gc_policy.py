"""The garbage-collector policy for long builds.

A build allocates a few dozen containers per row. With the default thresholds the cyclic collector
runs every 700 net allocations and, whenever the survivors add up, rescans the whole old
generation: every imported module's objects, and whatever the process holds. For a build that
collects its result (`build_events`) that was about a third of the time (issue 10). Building makes
no reference cycles (events are trees of dicts and lists; reference counting frees them), so while
a build runs:

- the objects that existed before it are frozen (`gc.freeze()`): no collection rescans them;
- the young-generation threshold is raised to `YOUNG_THRESHOLD`, more than a streamed chunk's
  live containers, so a streamed build rarely collects at all, while cyclic garbage, should some
  appear, is still collected eventually (the collector is never switched off).

Both are process-wide, so the policy is counted: it starts with the first build running in the
process and is undone (thresholds restored, heap unfrozen) when the last one ends, whatever the
threads do in between.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 100_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def long_build() -> Iterator[None]:
    """Apply the policy while the block runs (nested and concurrent uses are counted)."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(_saved[0], YOUNG_THRESHOLD), _saved[1], _saved[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
