"""The `capi-writeback` command: one subcommand per module under `commands/`.

Each command module exposes `add_arguments(parser)` and `run(args) -> int`; modules are imported
only when their command runs, so `capi-writeback build` does not pay for moto or the emulator.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("capi_writeback_local.commands.build", "turn conversion rows into Meta server events"),
    "serve": ("capi_writeback_local.commands.serve", "serve the HTTP API locally over an embedded AWS stack"),
    "demo": ("capi_writeback_local.commands.demo", "tell the whole story on an embedded stack (make demo)"),
    "meta-emulator": ("capi_writeback_local.commands.meta_emulator", "run the local Meta CAPI emulator"),
    "admin": ("capi_writeback_local.commands.admin", "set up a deployment: bootstrap the first workspace"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="capi-writeback", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub_parser)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
