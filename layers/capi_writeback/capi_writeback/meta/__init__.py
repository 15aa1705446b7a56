"""Meta Conversions API client: config, credentials, retry policy, typed errors, batch results."""

from .client import MetaClient, appsecret_proof
from .config import MAX_BATCH, MetaClientConfig
from .credentials import (
    CredentialsError,
    CredentialSource,
    MetaCredentials,
    SecretsManagerCredentials,
    StaticCredentials,
)
from .errors import MetaAuthError, MetaError, MetaRejectedError, MetaUnavailableError, fix_for
from .results import BatchResult, RejectedEvent
from .retry import RetryPolicy

__all__ = [
    "MAX_BATCH",
    "BatchResult",
    "CredentialSource",
    "CredentialsError",
    "MetaAuthError",
    "MetaClient",
    "MetaClientConfig",
    "MetaCredentials",
    "MetaError",
    "MetaRejectedError",
    "MetaUnavailableError",
    "RejectedEvent",
    "RetryPolicy",
    "SecretsManagerCredentials",
    "StaticCredentials",
    "appsecret_proof",
    "fix_for",
]
