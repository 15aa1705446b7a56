"""HTTP requests and responses as the front door and the gateway pass them to each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as the server received it (path without the query string)."""

    method: str
    path: str
    query: str = ""
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """The last value of a header (case-insensitive), as API Gateway's `headers` map keeps."""
        value = None
        for key, item in self.headers:
            if key.lower() == name.lower():
                value = item
        return value


@dataclass
class HttpResponse:
    """Status, headers in order (a name may repeat) and the body bytes."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)
