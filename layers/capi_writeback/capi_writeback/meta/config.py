"""Knobs of the Meta client: where Meta is, how long to wait, how many batches at once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from capi_writeback.limits import MAX_BATCH_EVENTS

from .retry import RetryPolicy

MAX_BATCH = MAX_BATCH_EVENTS  # the name this package exports


@dataclass(frozen=True)
class MetaClientConfig:
    """Configuration of `MetaClient`; `from_env` points it at the emulator in tests and the demo.

    The read timeout is sized for a 1,000-event body: Meta's 1.5 s advice is for small payloads.
    """

    base_url: str = "https://graph.facebook.com"
    api_version: str = "v25.0"
    connect_timeout: float = 3.0
    read_timeout: float = 15.0
    max_attempts: int = 5
    max_total_seconds: float = 60.0
    concurrency: int = 4
    partner_agent: str | None = None
    batch_size: int = MAX_BATCH
    bisect_max_requests: int = 200
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")

    @property
    def retry_policy(self) -> RetryPolicy:
        """`retry` with this config's attempt and total-time bounds (the public knobs)."""
        return replace(self.retry, max_attempts=self.max_attempts, max_total_seconds=self.max_total_seconds)

    def events_url(self, pixel_id: str) -> str:
        """The events edge URL; it never carries the token (that goes in the body)."""
        version, pixel = quote(self.api_version, safe=""), quote(pixel_id, safe="")
        return f"{self.base_url.rstrip('/')}/{version}/{pixel}/events"

    @classmethod
    def from_env(cls, **overrides: object) -> MetaClientConfig:
        """Config from META_BASE_URL, META_API_VERSION, META_CONCURRENCY, META_CONNECT_TIMEOUT,
        META_READ_TIMEOUT (unset ones keep their defaults); keyword overrides win."""
        env = os.environ
        values: dict[str, object] = {}
        if env.get("META_BASE_URL"):
            values["base_url"] = env["META_BASE_URL"]
        if env.get("META_API_VERSION"):
            values["api_version"] = env["META_API_VERSION"]
        if env.get("META_CONCURRENCY"):
            values["concurrency"] = int(env["META_CONCURRENCY"])
        if env.get("META_CONNECT_TIMEOUT"):
            values["connect_timeout"] = float(env["META_CONNECT_TIMEOUT"])
        if env.get("META_READ_TIMEOUT"):
            values["read_timeout"] = float(env["META_READ_TIMEOUT"])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
