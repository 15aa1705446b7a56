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
