"""The events the pipeline builds are accepted by the strict local Meta emulator (loopback only):
the sample files and a batch of messy benchmark rows, sent as Meta's batches of at most 1,000."""

from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capi_writeback.events import build_events
from capi_writeback.reading import read_rows
from capi_writeback.settings import ProfileSettings
from capi_writeback_local.meta_emulator import MetaEmulator

from .conftest import NOW

DATA = Path(__file__).resolve().parent.parent / "data"
PIXEL = "1234567890"


def _bench_module() -> Any:
    """bench/bench_pipeline.py by path (bench/ is not on sys.path under a bare `pytest`)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_pipeline.py"
    spec = importlib.util.spec_from_file_location("bench_pipeline_for_tests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def meta() -> Iterator[MetaEmulator]:
    with MetaEmulator(now=lambda: NOW) as emulator:
        yield emulator


def send(meta: MetaEmulator, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"data": events, "access_token": "test-token"}).encode()
    request = urllib.request.Request(f"{meta.url}/v25.0/{PIXEL}/events", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        raise AssertionError(exc.read().decode()) from None


@pytest.mark.parametrize(("name", "fmt", "country"), [
    ("conversions.jsonl", "jsonl", None), ("conversions.csv", "csv", "us"),
])
def test_sample_events_are_accepted(meta: MetaEmulator, name: str, fmt: str, country: str | None) -> None:
    result = build_events(read_rows((DATA / name).read_text("utf-8"), fmt), ProfileSettings(country=country),
                          NOW)
    assert result.events
    answer = send(meta, result.payload)
    assert answer["events_received"] == len(result.payload)


def test_messy_benchmark_rows_are_accepted_in_batches() -> None:
    bench = _bench_module()
    with MetaEmulator(now=lambda: bench.NOW) as meta:
        result = build_events(bench.messy_rows(2500), ProfileSettings(country="us"), bench.NOW)
        assert not result.skipped
        batches = result.batches()
        assert [len(b) for b in batches] == [1000, 1000, 500]
        for batch in batches:
            assert send(meta, batch)["events_received"] == len(batch)
        assert len(meta.received_events(PIXEL)) == 2500
