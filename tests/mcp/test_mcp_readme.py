"""The README's "Use it from an AI assistant" section: its shell walk-through runs as written (against
`capi-writeback serve`, port and paths moved out of the way) and says what really comes back; its
client configurations are valid JSON pointing at the MCP route."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Use it from an AI assistant"):README.index("## Errors")]


def test_client_configurations_are_valid_json_for_the_mcp_route() -> None:
    blocks = re.findall(r"```json\n(.*?)```", SECTION, re.DOTALL)
    assert len(blocks) == 3
    for block in blocks:
        config = json.loads(block)
        servers = config.get("mcpServers") or config.get("servers")
        entry = servers["capi-writeback"]
        target = entry.get("url") or entry["args"][1]
        assert target.endswith("/prod/v1/mcp")
        assert "Authorization" in json.dumps(entry)


@pytest.mark.timeout(180)
def test_the_conversation_runs_as_written(tmp_path: Path) -> None:
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", SECTION, re.DOTALL) if "mcp()" in b]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    script = "set -u\n" + block.replace("3001", port).replace("/tmp/capi-mcp", str(tmp_path / "capi-mcp"))
    script += '\necho "serve exited $?"\n'
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=150)
    out = done.stdout
    assert '{"stored":2,"rejected":[]}\n' in out, out + done.stderr
    expected = [
        "**user_demo** in workspace Demo workspace (`ws_demo`): role owner, scopes admin, mcp:read, "
        "mcp:write, "
        "write-back enabled.",
        "**Preview**: 2 events built; nothing was sent to Meta.",
        "**Dry-run** with test_event_code `TEST12345`: Meta received 2 of 2 events.",
        "**Confirm succeeded**: idempotency_key `payments-w48`.",
        "| 0 | 2 | 2 | accepted |",
        "**Confirm replayed**: idempotency_key `payments-w48` already succeeded; nothing was sent again.",
        "**Refused: MISSING_SCOPE**: The API token lacks the mcp:write scope.",
        "- Fix: Create a token with the mcp:write scope and retry.",
        "**Event sent**: Lead `lead-3003` to pixel 1234567890: Meta received 1 event.",
        "**Audit trail**: 5 rows, newest first.",
        "serve exited 0",
    ]
    positions = [out.find(line) for line in expected]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), out + done.stderr
    # the README's own comments quote that output
    for comment in re.findall(r"^# (\*\*.*)$", block, re.MULTILINE):
        assert comment.split(" ...")[0].rstrip(".") in out, comment
    assert "jane.doe@example.com" not in out  # the sample events are hashed
