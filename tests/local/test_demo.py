"""`make demo` end to end: a subprocess that must tell all eight steps and exit 0, leaving nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    log = tmp_path / "functions.log"
    done = subprocess.run(
        [sys.executable, "-m", "capi_writeback_local.cli", "demo", "--log", str(log)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for step in range(1, 9):
        assert f"[{step}/8]" in out
    stored = re.search(r"([\d,]+) rows stored; (\d+) rejected", out)
    assert stored and int(stored.group(1).replace(",", "")) > 3000 and int(stored.group(2)) > 0
    reasons = ("EVENT_TOO_OLD", "NO_CUSTOMER_IDENTIFIERS", "PURCHASE_MISSING_VALUE", "INVALID_EVENT_NAME")
    for reason in reasons:
        assert reason in out  # the sample trips each check
    ready = re.search(r"([\d,]+) events ready", out)
    assert ready
    events = int(ready.group(1).replace(",", ""))
    assert f"Meta received {events:,} of {events:,} test events" in out
    assert f"{events}/{events} events accepted by Meta" in out  # the progress bar reached the end
    assert "status succeeded" in out
    assert "replayed=true" in out and "0 events resent to Meta" in out
    # SPEC §9 / §8: one MCP tool call (a preview) and one event sent now, then replayed
    assert "one MCP tools/call to POST /v1/mcp" in out and "**Preview**: " in out
    assert re.search(r"Purchase demo-\S+-order-1: Meta received 1, match quality good, replayed=false", out)
    assert "the same event again → replayed=true, Meta was called 0 times" in out
    assert "HTTP 403 MISSING_SCOPE" in out and "fix: Create a token with the mcp:write scope" in out
    assert "HTTP 409 IDEMPOTENCY_KEY_REUSED" in out
    assert "HTTP 503 CIRCUIT_OPEN" in out and "Meta was called 0 times" in out
    assert "breaker closed" in out
    sync = out[out.index("[7/8]"):out.index("[8/8]")]
    assert re.search(r"dry run\s+dry_run\s+succeeded\s+150\s+150\s+150\s+150", sync), sync
    assert re.search(r"live\s+live\s+succeeded\s+150\s+150\s+150\s+150", sync), sync
    assert re.search(r"re-export\s+live\s+succeeded\s+180\s+30\s+30\s+30\s+ALREADY_SENT 150", sync), sync
    assert "Meta received 180 live events from the sync: each key once" in sync
    audit = out[out.index("[8/8]"):]
    for operation in ("preview", "dry_run", "confirm", "breaker_reset", "send_event", "sync_create",
                      "sync_update", "sync_run"):
        assert operation in audit
    assert re.search(r"preview\s+mcp\s", audit)  # the assistant's call, audited as via mcp
    assert "Everything stopped" in out
    # the functions' logs went to the log file, and hold no raw PII from the sample
    text = log.read_text()
    assert "conversions stored" in text
    assert "@example" not in text.lower()
