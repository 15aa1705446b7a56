"""`capi-writeback meta-emulator`: run the strict local Meta CAPI emulator until SIGTERM/SIGINT.

The first stdout line is the base URL (use it as META_BASE_URL). Besides the events edge it answers
`GET /{version}/{pixel_id}` (name the pixels with `--pixel-id ID=NAME`) and
`GET /{version}/dataset_quality` (computed from the events received). Faults can be set at start
with `--fault KIND[:N|:FRACTION][@LATENCY_MS]` or later through POST /_emulator/faults.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from capi_writeback_local.meta_emulator import FAULT_KINDS, Fault, MetaEmulator, Strictness


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--token", action="append", dest="tokens", metavar="TOKEN",
                        help="an accepted access token (repeatable; default test-token)")
    parser.add_argument("--pixel-id", action="append", dest="pixel_ids", metavar="ID[=NAME]",
                        help="a known pixel/dataset id, and the name GET /{version}/{id} answers for it "
                             "(repeatable; default 1234567890)")
    parser.add_argument("--app-secret", help="check appsecret_proof against this app secret")
    parser.add_argument("--require-appsecret-proof", action="store_true",
                        help="refuse calls without appsecret_proof (needs --app-secret)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="answer every request no sooner than this many ms after it arrives")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help=f"KIND[:N|:FRACTION][@LATENCY_MS]; KIND is one of {', '.join(FAULT_KINDS)}")
    parser.add_argument("--website-rule", choices=("reject", "warn"), default="reject",
                        help="website events without event_source_url/client_user_agent: reject or warn")
    parser.add_argument("--accept-md5", action="store_true", help="accept MD5 hashes of user_data")
    parser.add_argument("--future-tolerance", type=int, default=60,
                        help="seconds an event_time may be in the future (default 60)")
    parser.add_argument("--quality-all-sources", action="store_true",
                        help="dataset_quality counts every action_source, not only website events "
                             "(Meta's EMQ covers web events only)")
    parser.add_argument("--no-ledger-events", action="store_true",
                        help="do not keep request events in the ledger (long runs)")
    parser.add_argument("--seed", type=int, help="seed for fraction faults")
    parser.add_argument("--workers", type=int, default=0,
                        help="judge requests in N worker processes (uses more cores; default 0: in-process)")


def pixels(specs: list[str] | None) -> dict[str, str]:
    """`ID` or `ID=NAME` options -> {id: name} ("" = the emulator's default name)."""
    found: dict[str, str] = {}
    for spec in specs or ["1234567890"]:
        pixel_id, _, name = spec.partition("=")
        if not pixel_id.strip():
            raise ValueError(f"--pixel-id {spec!r}: the id is empty")
        found[pixel_id.strip()] = name.strip()
    return found


def build(args: argparse.Namespace) -> MetaEmulator:
    faults = [Fault.parse(spec) for spec in args.fault]
    if args.latency_ms:
        faults.insert(0, Fault("latency", latency_ms=args.latency_ms))
    return MetaEmulator(
        args.host,
        args.port,
        tokens=args.tokens or ("test-token",),
        pixel_ids=pixels(args.pixel_ids),
        app_secret=args.app_secret,
        strictness=Strictness(
            website_rule=args.website_rule,
            accept_md5=args.accept_md5,
            future_tolerance_seconds=args.future_tolerance,
            require_appsecret_proof=args.require_appsecret_proof,
            quality_web_only=not args.quality_all_sources,
        ),
        faults=faults,
        seed=args.seed,
        keep_events=not args.no_ledger_events,
        workers=args.workers,
    )


def run(args: argparse.Namespace) -> int:
    try:
        emulator = build(args)
    except ValueError as exc:
        print(f"meta-emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator.start()
    print(emulator.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0
