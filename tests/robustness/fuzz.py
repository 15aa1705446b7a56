"""`make fuzz` (`python -m tests.robustness.fuzz [--seconds 90]`): the hostile bodies of issue 9 on
every route, then schemathesis (every phase, positive and negative data) for the rest of the time,
against a running `capi-writeback serve` (started here unless --url is given), and a summary:
requests, status counts, and every answer that breaks SPEC §3.3 (a 500 with its request id).

Exit status 0 when nothing broke the rule, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.robustness.http import send
from tests.robustness.support import hostile_bodies, problems

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.robustness.fuzz", description=__doc__)
    parser.add_argument("--seconds", type=int, default=90, help="time budget (default 90)")
    parser.add_argument("--url", help="an API already served (default: start capi-writeback serve)")
    parser.add_argument("--token", help="its bearer token (with --url)")
    parser.add_argument("--profile-id", help="a profile of that token (with --url)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    server = None
    if args.url:
        info = {"api_url": args.url, "token": args.token, "profile_id": args.profile_id}
    else:
        server, info = _serve()
    try:
        with tempfile.TemporaryDirectory() as work:
            record = Path(work) / "record.jsonl"
            broken = _hostile(info, record)
            left = max(10, int(args.seconds - (time.monotonic() - started)))
            code = _schemathesis(info, record, left, Path(work))
            return _summary(record, broken, code, time.monotonic() - started)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def _serve() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    server = subprocess.Popen([str(BIN / "capi-writeback"), "serve", "--port", "0"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line:
        server.wait()
        raise SystemExit("capi-writeback serve did not start")
    return server, json.loads(line)


def _hostile(info: dict[str, Any], record: Path) -> list[str]:
    from capi_writeback_local.api_gateway import ApiDefinition

    row = {"conversion_id": "fuzz-1", "outcome_type": "lead_created", "occurred_at": int(time.time()) - 60,
           "email": "fuzz@example.com", "client_ip_address": "203.0.113.9"}
    broken = []
    with record.open("a", encoding="utf-8") as out:
        for route in ApiDefinition.from_template().routes:
            path = route.resource.replace("{profile_id}", str(info["profile_id"]))
            for hostile in hostile_bodies(row):
                headers = {"Authorization": f"Bearer {info['token']}",
                           "Accept": "application/json, text/event-stream"}
                if hostile.content_type is not None:
                    headers["Content-Type"] = hostile.content_type
                answer = send(str(info["api_url"]), route.method, path, hostile.body, headers)
                found = problems(path, answer.status, answer.headers, answer.body)
                broken += [f"{route.method} {route.resource} [{hostile.name}]: {p}" for p in found]
                out.write(json.dumps({"source": "hostile", "method": route.method, "path": route.resource,
                                      "status": answer.status}) + "\n")
    return broken


def _schemathesis(info: dict[str, Any], record: Path, seconds: int, work: Path) -> int:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.robustness.fuzz_hooks", "FUZZ_RECORD": str(record),
           "FUZZ_PROFILE_ID": str(info["profile_id"]), "PYTHONPATH": str(ROOT)}
    command = [str(BIN / "schemathesis"), "run", f"{info['api_url']}/v1/openapi.json",
               "--max-time", str(seconds), "--workers", "1", "--seed", "9",
               "--checks", "spec_error_shape,status_code_conformance,content_type_conformance,"
                           "response_schema_conformance",
               "--header", f"Authorization: Bearer {info['token']}", "--no-color"]
    log = work / "schemathesis.log"
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.call(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    text = log.read_text(encoding="utf-8")
    tail = text[text.find("SUMMARY"):] if "SUMMARY" in text else text[-3000:]
    print(tail.strip()[-4000:])
    return code


def _summary(record: Path, broken: list[str], schemathesis_code: int, elapsed: float) -> int:
    rows = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line]
    by_source = collections.Counter(r["source"] for r in rows)
    statuses = collections.Counter(r["status"] for r in rows)
    five = [r for r in rows if r["status"] >= 500]
    print(f"\nfuzz summary ({elapsed:.0f} s): {len(rows)} requests "
          f"({by_source['hostile']} hostile, {by_source['schemathesis']} generated)")
    print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    types = collections.Counter(f"{r['status']} {r.get('type')}" for r in five)
    print("5xx: " + (", ".join(f"{t}: {n}" for t, n in sorted(types.items())) or "none"))
    for r in five:
        if r.get("type") not in ("META_REJECTED", "META_UNAVAILABLE", "CIRCUIT_OPEN", "GATEWAY_TIMEOUT"):
            print(f"  500-class {r['status']} {r.get('type')} {r['method']} {r['path']} request_id "
                  f"{r.get('request_id')}")
    for line in broken:
        print("  broken: " + line)
    print(f"hostile bodies: {'no answer broke SPEC §3.3' if not broken else f'{len(broken)} broke it'}; "
          f"schemathesis exit status {schemathesis_code}")
    return 0 if not broken and schemathesis_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
