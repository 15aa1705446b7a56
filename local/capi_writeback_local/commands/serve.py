"""`capi-writeback serve`: the HTTP API of SPEC §3 on 127.0.0.1 over the embedded stack (SPEC §7).

The first stdout line is one JSON object {"api_url", "token", "profile_id", "pixel_id", "mcp_url",
"read_token", "aws_endpoint"} (`read_token`: a member's token with only mcp:read; `aws_endpoint`: the
embedded AWS, e.g. `aws --endpoint-url <it> s3 cp export.csv s3://capi-writeback-sync-export/...`
for a sync to read; null with --aws); everything
after it (access log, handler logs) goes to stderr, so a caller can read that line and never has to
drain stdout. SIGTERM or SIGINT stop it cleanly (exit 0): HTTP server, Meta emulator and moto.
`--state DIR` keeps the embedded stack's data in DIR (local_api.py, state.py); without it, the data
lives in memory and is gone when serve stops.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from capi_writeback_local.local_api import DEFAULT_META_TOKEN, DEFAULT_PIXEL_ID, LocalApi


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--meta-url", default=None,
                        help="Meta Graph base URL to send to (default: start the Meta emulator)")
    parser.add_argument("--meta-token", default=DEFAULT_META_TOKEN,
                        help="Meta access token of the demo connection (stored in emulated Secrets Manager)")
    parser.add_argument("--pixel-id", default=DEFAULT_PIXEL_ID,
                        help="pixel (dataset) id of the demo connection")
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    parser.add_argument("--state", metavar="DIR", default=None,
                        help="keep the embedded stack's data in DIR across restarts, a crash included "
                             "(written through, before each answer); without it, it lives in memory")
    parser.add_argument("--aws", action="store_true",
                        help="serve over the AWS the environment points at (credentials, region, table "
                             "variables such as AUDIT_TABLE) instead of the embedded stack; seeds nothing")


def _state_line(state: str | None, api: LocalApi) -> str:
    if api.stack is None:
        return "capi-writeback serve: serving over the AWS the environment points at"
    if state is None:
        return ("capi-writeback serve: the embedded AWS data lives in memory and is gone when serve "
                "stops (--state DIR keeps it)")
    restored = api.stack.restored
    return (f"capi-writeback serve: the embedded AWS data is kept in {state} "
            + (f"({restored} changes restored)" if restored else "(new)"))


def run(args: argparse.Namespace) -> int:
    first_line_out = sys.stdout
    sys.stdout = sys.stderr  # handler logs and metrics must not follow the first line on stdout
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if args.state and args.aws:
        print("capi-writeback serve: --state keeps the embedded stack's data; it cannot go with --aws",
              file=sys.stderr, flush=True)
        return 2
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    api = LocalApi(port=args.port, meta_url=args.meta_url, meta_token=args.meta_token,
                   pixel_id=args.pixel_id, access_log=None if args.quiet else sys.stderr,
                   embedded=not args.aws, state_dir=args.state)
    try:
        try:
            api.start()
        except (OSError, RuntimeError) as exc:  # e.g. the port is taken
            print(f"capi-writeback serve: cannot start: {exc}", file=sys.stderr, flush=True)
            return 1
        try:
            first_line_out.write(json.dumps(api.info()) + "\n")
            first_line_out.flush()
            print(_state_line(args.state, api), file=sys.stderr, flush=True)
            print(f"capi-writeback serve: API on {api.url}/v1 (docs: {api.url}/v1/docs); "
                  f"Meta at {api.meta_url or api.emulator.url}. Ctrl-C or SIGTERM stops it.",
                  file=sys.stderr, flush=True)
            print(f"capi-writeback serve: dashboard at {api.url}/v1/dashboard (sign in with the token "
                  "of the first line)", file=sys.stderr, flush=True)
            while not stop.wait(0.5):
                pass
            print("capi-writeback serve: stopping", file=sys.stderr, flush=True)
        finally:
            api.stop()
    finally:
        sys.stdout = first_line_out
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
