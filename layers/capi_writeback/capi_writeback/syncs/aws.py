"""The AWS clients of the syncs (S3, EventBridge Scheduler, Step Functions, Athena): one per
service and process, built on first use (cold starts, and a client built before moto starts would
talk to real AWS), forgotten by `reset()` when the endpoint changes (tests, the local stack)."""

from __future__ import annotations

import threading
from typing import Any

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


def client(service: str) -> Any:
    """The process-wide boto3 client of `service` (thread-safe to share)."""
    found = _CLIENTS.get(service)
    if found is None:
        with _LOCK:
            found = _CLIENTS.get(service)
            if found is None:
                import boto3
                from botocore.config import Config

                found = _CLIENTS[service] = boto3.client(service, config=Config(
                    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=30,
                    max_pool_connections=16))
    return found


def reset() -> None:
    with _LOCK:
        _CLIENTS.clear()


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (None for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None
