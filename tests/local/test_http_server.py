"""The HTTP front door moves bytes faithfully: bodies (also chunked), headers, size limit, keep-alive."""

from __future__ import annotations

import dataclasses
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from capi_writeback_local.api_gateway import (
    MAX_REQUEST_BYTES,
    ApiDefinition,
    ApiGateway,
    HttpRequest,
    HttpResponse,
)
from capi_writeback_local.http_server import LocalApiServer


class Recorder(ApiGateway):
    def __init__(self) -> None:
        super().__init__(api=dataclasses.replace(ApiDefinition.from_template(), routes=()))
        self.requests: list[HttpRequest] = []

    def handle(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        body = json.dumps({"method": request.method, "path": request.path, "query": request.query,
                           "length": len(request.body)}).encode()
        return HttpResponse(200, [("Content-Type", "application/json"), ("X-A", "1"), ("X-A", "2")], body)


@pytest.fixture()
def server() -> Iterator[tuple[LocalApiServer, Recorder]]:
    gateway = Recorder()
    with LocalApiServer(gateway, 0) as running:
        yield running, gateway


def _connection(running: LocalApiServer) -> http.client.HTTPConnection:
    host, port = running.server_address[:2]
    assert host == "127.0.0.1"
    return http.client.HTTPConnection(str(host), int(port), timeout=10)


def _answer(connection: http.client.HTTPConnection) -> tuple[int, Any, Any]:
    response = connection.getresponse()
    return response.status, response.getheaders(), json.loads(response.read())


def test_body_query_and_repeated_headers_pass_through(server: tuple[LocalApiServer, Recorder]) -> None:
    running, gateway = server
    connection = _connection(running)
    connection.request("POST", "/v1/x?a=1&b=2", body=b"12345", headers={"X-Multi": "one"})
    status, headers, body = _answer(connection)
    assert status == 200
    assert body == {"method": "POST", "path": "/v1/x", "query": "a=1&b=2", "length": 5}
    assert [v for k, v in headers if k == "X-A"] == ["1", "2"]
    connection.request("GET", "/v1/y")  # same connection: keep-alive
    status, _headers, body = _answer(connection)
    assert status == 200 and body["path"] == "/v1/y"
    assert gateway.requests[0].source_ip == "127.0.0.1"


def test_chunked_request_body_is_reassembled(server: tuple[LocalApiServer, Recorder]) -> None:
    running, gateway = server
    connection = _connection(running)
    connection.request("POST", "/v1/chunked", body=iter([b"abc", b"defgh"]),
                       encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    status, _headers, body = _answer(connection)
    assert status == 200 and body["length"] == 8
    assert gateway.requests[-1].body == b"abcdefgh"


def test_body_over_the_gateway_limit_is_refused_unread(server: tuple[LocalApiServer, Recorder]) -> None:
    running, gateway = server
    connection = _connection(running)
    connection.putrequest("POST", "/v1/big")
    connection.putheader("Content-Length", str(MAX_REQUEST_BYTES + 1))
    connection.endheaders()
    status, _headers, body = _answer(connection)
    assert status == 413
    assert body["error"]["type"] == "VALIDATION_ERROR"  # the template's REQUEST_TOO_LARGE response
    assert gateway.requests == []


def test_access_log_shows_the_path_without_the_query_string() -> None:
    """A query string is caller data (`?email=...`, a pasted token...): the access log keeps it out."""
    import io

    log = io.StringIO()
    with LocalApiServer(Recorder(), 0, access_log=log) as running:
        connection = _connection(running)
        connection.request("GET", "/v1/profiles/p1/writeback/audit?email=jane.doe%40example.com&limit=5")
        assert _answer(connection)[0] == 200
    line = log.getvalue()
    assert line.startswith("GET /v1/profiles/p1/writeback/audit 200 "), line
    assert "jane" not in line
