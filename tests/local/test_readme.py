"""The README's reference tables stay true to the code they describe."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from capi_writeback.errors import ERRORS
from capi_writeback_local.commands import serve

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_error_table_is_the_one_in_errors_py() -> None:
    section = README[README.index("## Errors"):README.index("## Deploying")]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", section, re.MULTILINE)
    documented = {name: int(status) for name, status in rows}
    assert documented == {name: spec.status for name, spec in ERRORS.items()}


def test_serve_options_table_lists_every_option() -> None:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    options = {flag for action in parser._actions for flag in action.option_strings
               if flag.startswith("--") and flag != "--help"}
    start = README.index("Options of `capi-writeback serve`")
    section = README[start:README.index("The Meta emulator on its own")]
    documented = set(re.findall(r"`(--[a-z-]+)", section))
    assert documented == options


def test_safety_flow_commands_work_as_written(tmp_path: Path) -> None:
    """Runs the README's serve + curl walk-through (port and file paths moved out of the way)."""
    import json
    import socket
    import subprocess

    section = README[README.index("## The safety flow"):README.index("`make serve` runs it")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    script = ["set -u"]
    for block in blocks:
        lines = [line[3:] if line.startswith("   ") else line for line in block.splitlines()]
        script += [line for line in lines if not line.lstrip().startswith("#") and line != "make setup"]
        script.append('echo "<<<END>>>"')
    script.append('curl -s -X POST "$API/writeback/confirm" -H "$AUTH" -H "$JSON" '
                  "-d '{\"last_days\": 7, \"idempotency_key\": \"push-2026-11-24\"}'")
    script.append('echo "<<<END>>>"')
    script.append('kill $SERVE_PID; wait $SERVE_PID; echo "serve exited $?"')
    text = "\n".join(script).replace("3000", port).replace("/tmp/capi-serve", str(tmp_path / "capi-serve"))
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(["bash", "-c", text], cwd=root, capture_output=True, text=True, timeout=120)
    parts = done.stdout.split("<<<END>>>")
    assert len(parts) == len(blocks) + 2, done.stdout + done.stderr
    start, stored, preview, dry_run, confirm, audit, refused, replay, end = (p.strip() for p in parts)
    assert json.loads(start)["api_url"] == f"http://127.0.0.1:{port}"
    assert json.loads(stored) == {"stored": 3, "rejected": []}
    preview_body = json.loads(preview)
    assert preview_body["event_count"] == 2
    assert [s["reason"] for s in preview_body["skipped"]] == ["PURCHASE_MISSING_VALUE"]
    assert json.loads(dry_run)["events_received"] == 2
    assert json.loads(confirm)["status"] == "succeeded" and json.loads(confirm)["replayed"] is False
    assert [row["operation"] for row in json.loads(audit)["items"]] == ["confirm", "dry_run", "preview"]
    assert json.loads(refused)["error"]["type"] == "UNAUTHENTICATED"
    assert json.loads(replay)["replayed"] is True
    assert end == "serve exited 0"


def test_one_event_example_runs_as_written(tmp_path: Path) -> None:
    """The section "One event, sent now": its serve + curl block, port and paths moved out of the way."""
    import json
    import socket
    import subprocess

    section = README[README.index("## One event, sent now"):README.index("## Use it from an AI assistant")]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    moved = block.replace("3002", port).replace("/tmp/capi-events", str(tmp_path / "capi-events"))
    script = "set -u\n" + moved
    script += '\necho "serve exited $?"\n'
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(["bash", "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    out = done.stdout
    sent_line, *rest = out.splitlines()
    sent = json.loads(sent_line)
    assert (sent["event_id"], sent["events_received"], sent["replayed"], sent["match_quality"]) == (
        "order-1001", 1, False, "good"), out + done.stderr
    assert sent["event"]["user_data"]["em"][0].startswith("86e0b9e5")  # as the comment says
    summary = "\n".join(rest)
    assert summary.startswith("**Event already sent**: Purchase `order-1001` went to pixel 1234567890 before")
    assert "nothing was sent again" in summary and "Warning" not in summary  # the very same event
    refused = json.loads(next(line for line in rest if line.startswith('{"error"')))
    assert refused["error"]["type"] == "VALIDATION_ERROR"
    assert refused["error"]["details"][0]["reason"] == "EVENT_TOO_OLD"
    assert out.rstrip().endswith("serve exited 0")
    for comment in re.findall(r"^# (\*\*.*)$", block, re.MULTILINE):
        assert comment.split(" (request")[0] in out, comment
