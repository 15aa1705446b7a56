"""`capi-writeback demo` (`make demo`): the whole story on an embedded stack, in under a minute.

Handler logs go to a log file (default: capi-writeback-demo.log in the temp directory) so the story
stays readable; the file shows what the functions log (ids, counts, hashes; never raw PII or tokens).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

from capi_writeback_local.demo import run_demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "capi-writeback-demo.log",
                        help="where the functions' own log lines go")


def run(args: argparse.Namespace) -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with args.log.open("w", encoding="utf-8") as log:
        code = run_demo(sys.stdout, log)
    print(f"Function logs: {args.log}")
    return code
