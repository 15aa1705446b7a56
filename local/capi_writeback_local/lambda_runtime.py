"""The functions of `functions/<name>/app.py`, run in this process the way Lambda runs them.

Every function file is called app.py, so each is loaded with importlib under a unique module name.
Like Lambda, a loaded copy (a "container") serves one request at a time; concurrent requests to the
same function get further copies, so module-level state in a handler behaves as it does on AWS.
The layer package is shared by all copies, as the layer is on AWS. A copy whose init raises is not
kept (the next call loads it afresh), as a failed Lambda init is retried on the next request.

An `Invocation` runs on its own thread, so a caller can stop waiting while the function carries on
(API Gateway's integration timeout does exactly that).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, function_name: str, region: str, account_id: str, timeout_s: float = 30.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionPool:
    """Loads `functions/<name>/app.py` and hands out one idle copy per invocation (see module doc)."""

    def __init__(self, functions_dir: Path = FUNCTIONS_DIR) -> None:
        self.functions_dir = functions_dir
        self._lock = threading.Lock()
        self._idle: dict[str, list[ModuleType]] = {}
        self._loaded = 0

    def _load(self, name: str) -> ModuleType:
        path = self.functions_dir / name / "app.py"
        with self._lock:
            self._loaded += 1
            module_name = f"capi_writeback_function_{name}_{self._loaded}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:  # like a failed Lambda init: nothing half-loaded is kept
            del sys.modules[module_name]
            raise
        return module

    def invoke(self, name: str, event: dict[str, Any], context: LambdaContext) -> Any:
        """Call `lambda_handler(event, context)` of function `name` in a copy no one else is using."""
        with self._lock:
            idle = self._idle.setdefault(name, [])
            module = idle.pop() if idle else None
        if module is None:
            module = self._load(name)
        try:
            handler: Handler = module.lambda_handler
            return handler(event, context)
        finally:
            with self._lock:
                self._idle[name].append(module)

    def start(self, name: str, event: dict[str, Any], context: LambdaContext) -> Invocation:
        """Invoke `name` on a thread of its own; `wait` on the result as long as the caller will."""
        return Invocation(self, name, event, context)


class Invocation:
    """One running invocation. It finishes even when nobody waits for it any more."""

    def __init__(self, pool: FunctionPool, name: str, event: dict[str, Any], context: LambdaContext) -> None:
        self.result: Any = None
        self.failed = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pool, name, event, context),
                                        name=f"lambda-{name}", daemon=True)
        self._thread.start()

    def _run(self, pool: FunctionPool, name: str, event: dict[str, Any], context: LambdaContext) -> None:
        try:
            self.result = pool.invoke(name, event, context)
        except Exception:  # the function raised (or failed to load): the caller sees a failure
            self.failed = True
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the function returned or raised; False if it is still running after `timeout`."""
        return self._done.wait(timeout)
