"""Raw HTTP to the local API: bytes in, status, headers and bytes out (no client-side re-encoding)."""

from __future__ import annotations

import contextlib
import http.client
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send(base_url: str, method: str, path: str, body: bytes | None, headers: dict[str, str],
         *, declared_length: int | None = None, timeout: float = 60) -> Answer:
    """One request on a new connection. `declared_length`: announce that many bytes and send only
    `body` (a body over the gateway's limit is refused before it is read)."""
    url = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        length = declared_length if declared_length is not None else len(body or b"")
        for name, value in {**headers, "Content-Length": str(length)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        if body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.send(body)  # refused before it is all read: the answer is still there
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()
