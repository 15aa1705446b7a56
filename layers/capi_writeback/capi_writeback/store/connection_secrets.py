"""Writing a profile's Meta credentials to Secrets Manager (`capi-writeback/connections/<profile_id>`).

Write-only on purpose: the function that connects Meta may create, update, schedule for deletion and
restore these secrets, never read one back (template.yaml grants it exactly that). A disconnected
profile's secret is scheduled for deletion with a recovery window; connecting again restores it.
A boto3 client is built per call: connections change rarely, and a cached client would outlive the
AWS endpoint it was built for (local stacks, tests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SECRET_PREFIX = "capi-writeback/connections/"
RECOVERY_DAYS = 7
DESCRIPTION = "Meta Conversions API credentials of a capi-writeback profile (access_token, app_secret)."


def secret_id_for(profile_id: str) -> str:
    return SECRET_PREFIX + profile_id


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


class ConnectionSecrets:
    """put(secret_id, value) / remove(secret_id) on Secrets Manager (`client` for tests)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _secrets(self) -> Any:
        if self._client is not None:
            return self._client
        import boto3

        return boto3.client("secretsmanager")

    def put(self, secret_id: str, value: Mapping[str, str]) -> None:
        """Create the secret, or store a new version of it (restoring it first if it was deleted)."""
        client = self._secrets()
        text = json.dumps(dict(value))
        try:
            client.create_secret(Name=secret_id, SecretString=text, Description=DESCRIPTION)
            return
        except Exception as exc:
            if _code(exc) not in ("ResourceExistsException", "InvalidRequestException"):
                raise
        try:  # it exists, maybe scheduled for deletion by an earlier disconnect: cancel that first
            client.restore_secret(SecretId=secret_id)
        except Exception as exc:
            if _code(exc) != "InvalidRequestException":  # not scheduled for deletion: nothing to undo
                raise
        client.put_secret_value(SecretId=secret_id, SecretString=text)

    def remove(self, secret_id: str) -> None:
        """Schedule the secret for deletion (nothing to do when it is gone or already scheduled)."""
        try:
            self._secrets().delete_secret(SecretId=secret_id, RecoveryWindowInDays=RECOVERY_DAYS)
        except Exception as exc:
            if _code(exc) not in ("ResourceNotFoundException", "InvalidRequestException"):
                raise
