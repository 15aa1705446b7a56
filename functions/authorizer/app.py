"""TOKEN authorizer: 'Authorization: Bearer <token>' → allow + {workspace_id, user_id, scopes}.

The token is looked up by its SHA-256 only; missing, unknown and expired tokens raise "Unauthorized"
(401). Kept lean for cold starts: no resolver, no pydantic.
"""

from __future__ import annotations

import time
from typing import Any

from capi_writeback.auth import authorize
from capi_writeback.observability import logger

_directory: Any = None


def _get_directory() -> Any:
    global _directory
    if _directory is None:
        from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

        _directory = DynamoDirectoryStore()
    return _directory


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return authorize(event, _get_directory(), time.time())
    except Exception as exc:
        # Never log the token; "Unauthorized" is the only answer API Gateway turns into a 401.
        logger.info("token refused", extra={"reason": type(exc).__name__})
        raise
