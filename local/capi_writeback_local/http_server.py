"""The local HTTP front door: a threading HTTP/1.1 server on 127.0.0.1 that hands every request to
the API Gateway stand-in (api_gateway/). It only moves bytes; all API behaviour lives behind it.

Whatever it cannot take apart (a request line or headers http.server refuses, a body that is not
framed as HTTP/1.1 says, see http_body.py) is answered with the gateway's SPEC error body, never
http.server's HTML page, and the connection is closed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import urlsplit

from capi_writeback_local.api_gateway import MAX_REQUEST_BYTES, ApiGateway, HttpRequest, HttpResponse
from capi_writeback_local.http_body import BodyTooLarge, MalformedBody, read_body

LOOPBACK = "127.0.0.1"


# What the front door says when http.server cannot parse the request line or headers. Its own
# messages are not used: they quote the request line, which is caller data (a token in a query...).
_UNPARSABLE: dict[int, str] = {
    HTTPStatus.REQUEST_URI_TOO_LONG: "The request line is longer than 65,536 bytes.",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "A header line is longer than 65,536 bytes, or there are "
                                                "more than 100 headers.",
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: "Only HTTP/1.0 and HTTP/1.1 are served.",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalApiServer

    def __getattr__(self, name: str) -> Callable[[], None]:
        """Every method goes to the gateway, TRACE, CONNECT and made-up ones included: API Gateway
        answers a method no resource has like an unknown route, where http.server would send 501."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        path = url.path or "/"
        try:
            body = read_body(self.headers, self.rfile, MAX_REQUEST_BYTES)
        except BodyTooLarge:  # refused unread, so the connection cannot be reused
            self._respond(self.server.gateway.too_large(), path, started, close=True)
            return
        except MalformedBody as exc:  # where the next request would start is unknown: close
            self._respond(self.server.gateway.malformed(400, str(exc)), path, started, close=True)
            return
        request = HttpRequest(method=self.command, path=path, query=url.query,
                              headers=list(self.headers.items()), body=body,
                              source_ip=self.client_address[0])
        self._respond(self.server.gateway.handle(request), path, started)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a request line or headers it cannot parse) as the gateway's
        SPEC error body, not an HTML page; always a 4xx, since the request is at fault."""
        status = code if 400 <= code < 500 else HTTPStatus.BAD_REQUEST
        self.request_version = self.protocol_version  # a full response, even to an HTTP/0.9-looking line
        text = _UNPARSABLE.get(code, "The HTTP request line or headers are malformed.")
        self._respond(self.server.gateway.malformed(status, text), "-", time.monotonic(), close=True)

    def _respond(self, response: HttpResponse, path: str, started: float, *, close: bool = False) -> None:
        self.send_response(response.status)
        for key, value in response.headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")  # also ends this connection's request loop
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        # the path only: a query string is caller data (it may hold an email or a pasted token)
        self.server.log_request_line(self.command or "-", path, response.status, time.monotonic() - started)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the server logs one line per request itself (log_request_line)."""


class LocalApiServer(ThreadingHTTPServer):
    """`LocalApiServer(gateway, port=0)`; `.url`, `.start()` (background thread), `.stop()`."""

    daemon_threads = True
    allow_reuse_address = True
    # Connections the kernel holds until they are accepted; with socketserver's default of 5, 14 of
    # 30 clients that connected at once were reset. (The kernel caps it at net.core.somaxconn.)
    request_queue_size = 128

    def __init__(self, gateway: ApiGateway, port: int = 0, *, access_log: IO[str] | None = None) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.gateway = gateway
        self.access_log = access_log
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def log_request_line(self, method: str, path: str, status: int, seconds: float) -> None:
        if self.access_log is not None:
            print(f"{method} {path} {status} {seconds * 1000:.0f}ms", file=self.access_log, flush=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request is normal; anything else gets one line, not a trace."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        if self.access_log is not None:
            print(f"server error: {type(exc).__name__}: {exc}", file=self.access_log, flush=True)

    def start(self) -> LocalApiServer:
        self._thread = threading.Thread(target=self.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.server_close()

    def __enter__(self) -> LocalApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

