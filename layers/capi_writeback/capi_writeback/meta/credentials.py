"""Where the Meta access token comes from: Secrets Manager, through Powertools parameters.

A connection's secret is JSON `{"access_token": ..., "app_secret"?: ...}`. It is cached for a bounded
`max_age`, so a rotated secret is picked up within that age, and `invalidate` makes the next `get`
fetch it again at once (the client does that after a 190 answer).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import MetaAuthError


@dataclass(frozen=True)
class MetaCredentials:
    """An access token and optional app secret. Their repr never shows either value."""

    access_token: str = field(repr=False)
    app_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"MetaCredentials(access_token=***, app_secret={'***' if self.app_secret else None})"

    @classmethod
    def from_secret(cls, value: Any) -> MetaCredentials:
        """Credentials from the secret's value (a JSON string or an already-parsed dict)."""
        if isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise CredentialsError("the Meta connection secret is not JSON") from exc
        if not isinstance(value, dict) or not isinstance(value.get("access_token"), str):
            raise CredentialsError("the Meta connection secret has no access_token string")
        token = value["access_token"].strip()
        if not token:
            raise CredentialsError("the Meta connection secret has an empty access_token")
        app_secret = value.get("app_secret")
        return cls(token, app_secret if isinstance(app_secret, str) and app_secret else None)


class CredentialsError(MetaAuthError):
    """The connection's secret is missing or malformed (never includes the secret's value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.fix = "Reconnect Meta for this profile: its stored access token is missing or unreadable."


class CredentialSource(Protocol):
    """What the client needs: get credentials for a secret id, and forget a cached copy."""

    def get(self, secret_id: str) -> MetaCredentials: ...

    def invalidate(self, secret_id: str) -> None: ...


class SecretsManagerCredentials:
    """Credentials from AWS Secrets Manager via Powertools `SecretsProvider`, cached `max_age` seconds.

    The boto3 client is created on first use (after any moto mock has started). Thread-safe.
    """

    def __init__(self, max_age: int = 300, *, provider: Any = None) -> None:
        self.max_age = max_age
        self._provider = provider
        self._stale: set[str] = set()
        self._lock = threading.Lock()

    def _secrets(self) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider()
        return self._provider

    def get(self, secret_id: str) -> MetaCredentials:
        with self._lock:
            force = secret_id in self._stale
            self._stale.discard(secret_id)
            provider = self._secrets()
        try:
            value = provider.get(secret_id, max_age=self.max_age, force_fetch=force)
        except Exception as exc:  # Powertools wraps boto errors in GetParameterError
            raise CredentialsError(f"could not read the Meta connection secret {secret_id!r}") from exc
        return MetaCredentials.from_secret(value)

    def invalidate(self, secret_id: str) -> None:
        with self._lock:
            self._stale.add(secret_id)


class StaticCredentials:
    """Fixed credentials per secret id (the demo, the CLI, and tests that do not exercise rotation)."""

    def __init__(self, secrets: dict[str, MetaCredentials]) -> None:
        self._secrets = dict(secrets)

    def get(self, secret_id: str) -> MetaCredentials:
        try:
            return self._secrets[secret_id]
        except KeyError:
            raise CredentialsError(f"no Meta credentials for {secret_id!r}") from None

    def invalidate(self, secret_id: str) -> None:
        """Nothing is cached, so there is nothing to forget."""
