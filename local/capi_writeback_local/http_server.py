"""The local HTTP front door: a threading HTTP/1.1 server on 127.0.0.1 that hands every request to
the API Gateway stand-in (api_gateway/). It only moves bytes; all API behaviour lives behind it."""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import urlsplit

from capi_writeback_local.api_gateway import MAX_REQUEST_BYTES, ApiGateway, HttpRequest, HttpResponse

LOOPBACK = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalApiServer

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _TooLarge:
            self._send(self.server.gateway.too_large())
            self.close_connection = True
            return
        except ValueError:
            self.send_error(400, "Bad request body")
            return
        url = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=url.path or "/",
            query=url.query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        started = time.monotonic()
        response = self.server.gateway.handle(request)
        self._send(response)
        # the path only: a query string is caller data (it may hold an email or a pasted token)
        self.server.log_request_line(self.command, request.path, response.status, time.monotonic() - started)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def do_HEAD(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BYTES:
                    raise _TooLarge()
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_REQUEST_BYTES:
            raise _TooLarge()
        return self.rfile.read(length) if length else b""

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for key, value in response.headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the server logs one line per request itself (log_request_line)."""


class _TooLarge(Exception):
    pass


class LocalApiServer(ThreadingHTTPServer):
    """`LocalApiServer(gateway, port=0)`; `.url`, `.start()` (background thread), `.stop()`."""

    daemon_threads = True
    allow_reuse_address = True

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

