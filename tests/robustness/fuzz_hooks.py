"""Schemathesis hooks for `make fuzz` (loaded by the schemathesis CLI through SCHEMATHESIS_HOOKS):
the SPEC error shape check, the seeded profile id in three calls of four, and a record of every
answer (status, error type, request id) in the JSON Lines file FUZZ_RECORD names."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import schemathesis
from schemathesis import Case, HookContext, Response

from tests.robustness.schema import aim, spec_error_shape

__all__ = ["spec_error_shape"]
_lock = threading.Lock()
_calls = 0


@schemathesis.hook
def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    global _calls
    with _lock:
        _calls += 1
        choice = _calls
    aim(case, os.environ["FUZZ_PROFILE_ID"], choice)


@schemathesis.hook
def after_call(context: HookContext, case: Case, response: Response) -> None:
    error: dict[str, Any] = {}
    if response.status_code >= 400:
        try:
            error = json.loads(response.content).get("error") or {}
        except (ValueError, AttributeError):
            error = {}
    record = {"source": "schemathesis", "method": case.method, "path": case.path,
              "status": response.status_code, "type": error.get("type") if isinstance(error, dict) else None,
              "request_id": error.get("request_id") if isinstance(error, dict) else None}
    with _lock, open(os.environ["FUZZ_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
