"""Functions run as Lambda runs them: one request per copy, a failed init not kept, an invocation
that carries on when its caller stops waiting, a context that counts down."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from capi_writeback_local.lambda_runtime import FunctionPool, LambdaContext


def _function(root: Path, name: str, source: str) -> FunctionPool:
    (root / name).mkdir(exist_ok=True)
    (root / name / "app.py").write_text(source)
    return FunctionPool(root)


def _context(name: str = "f") -> LambdaContext:
    return LambdaContext(name, "us-east-1", "123456789012")


def test_an_invocation_carries_on_after_its_caller_stops_waiting(tmp_path: Path) -> None:
    pool = _function(tmp_path, "slow", "def lambda_handler(event, context):\n"
                                       "    event['go'].wait(5)\n"
                                       "    return {'got': event['n']}\n")
    go = threading.Event()
    invocation = pool.start("slow", {"go": go, "n": 7}, _context())
    assert invocation.wait(0.05) is False  # the caller stops waiting; the function still runs
    go.set()
    assert invocation.wait(5) is True
    assert invocation.result == {"got": 7} and invocation.failed is False


def test_an_invocation_that_raises_is_marked_failed(tmp_path: Path) -> None:
    pool = _function(tmp_path, "boom", "def lambda_handler(event, context):\n    raise ValueError('bug')\n")
    invocation = pool.start("boom", {}, _context())
    assert invocation.wait(5) is True
    assert invocation.failed is True and invocation.result is None


def test_concurrent_invocations_get_separate_copies_and_warm_copies_are_reused(tmp_path: Path) -> None:
    pool = _function(tmp_path, "copy", "import time\n"
                                       "busy = []\n"
                                       "def lambda_handler(event, context):\n"
                                       "    busy.append(1)\n"
                                       "    overlapped = len(busy) > 1\n"
                                       "    time.sleep(0.05)\n"
                                       "    busy.pop()\n"
                                       "    return (overlapped, __name__)\n")
    start = threading.Barrier(4)
    results: list[tuple[bool, str]] = []

    def call() -> None:
        start.wait()
        results.append(pool.invoke("copy", {}, _context()))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [overlapped for overlapped, _ in results] == [False] * 4  # no copy served two at once
    copies = {name for _, name in results}
    assert len(copies) >= 2
    assert pool.invoke("copy", {}, _context())[1] in copies  # warm, not loaded again


def test_a_copy_whose_init_fails_is_not_kept(tmp_path: Path) -> None:
    pool = _function(tmp_path, "broken", "raise ImportError('no such dependency')\n")
    invocation = pool.start("broken", {}, _context())
    assert invocation.wait(5) and invocation.failed
    (tmp_path / "broken" / "app.py").write_text("def lambda_handler(event, context):\n    return 'ok'\n")
    assert pool.invoke("broken", {}, _context()) == "ok"


def test_the_context_counts_down_to_zero() -> None:
    context = LambdaContext("f", "us-east-1", "123456789012", timeout_s=30)
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    short = LambdaContext("f", "us-east-1", "123456789012", timeout_s=0.01)
    time.sleep(0.05)
    assert short.get_remaining_time_in_millis() == 0
