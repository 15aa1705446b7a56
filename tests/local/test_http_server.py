"""The HTTP front door moves bytes faithfully: bodies (also chunked), headers, size limit, keep-alive;
and whatever it cannot parse gets the SPEC error body, never http.server's HTML page."""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
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
from capi_writeback_local.lambda_runtime import FunctionPool


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


# ---- requests http.server would answer with an HTML page, or not at all -----------------------

def _raw(running: LocalApiServer, data: bytes) -> tuple[int, http.client.HTTPResponse, dict[str, Any]]:
    """Send `data` as it is on a fresh connection; the status, the response and its JSON body."""
    host, port = running.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock, method="GET")
        response.begin()
        raw = response.read()
    assert response.getheader("Content-Type") == "application/json", raw
    assert b"<html" not in raw.lower() and b"<!doctype" not in raw.lower()
    body = json.loads(raw)
    assert set(body["error"]) == {"type", "message", "fix", "request_id"}
    assert body["error"]["request_id"] == response.getheader("x-amzn-RequestId")
    return response.status, response, body


@pytest.fixture()
def template_server(tmp_path: Path) -> Iterator[LocalApiServer]:
    """The template's routes and gateway responses; no function is ever reached in these tests."""
    with LocalApiServer(ApiGateway(FunctionPool(tmp_path), ApiDefinition.from_template()), 0) as running:
        yield running


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO", "get"])
def test_unknown_and_unsupported_methods_get_the_gateways_not_found(
        template_server: LocalApiServer, method: str) -> None:
    """API Gateway answers a method no resource has like an unknown route (the template: 404)."""
    target = "127.0.0.1:443" if method == "CONNECT" else "/v1/docs"
    status, _response, body = _raw(template_server,
                                   f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 404
    assert body["error"]["type"] == "NOT_FOUND"


def test_an_unknown_method_with_a_body_keeps_the_connection_usable(template_server: LocalApiServer) -> None:
    connection = _connection(template_server)
    connection.request("TRACE", "/v1/docs", body=b"12345")
    assert _answer(connection)[0] == 404
    connection.request("TRACE", "/v1/openapi.json")  # same connection: the body was read, not left behind
    status, _headers, body = _answer(connection)
    assert status == 404 and body["error"]["type"] == "NOT_FOUND"


@pytest.mark.parametrize("lengths", [["abc"], ["-1"], ["1.5"], ["0x10"], [""], ["+5"], [" 5 5"], ["٥"],
                                     ["5, 6"], ["5", "6"]])
def test_a_malformed_or_conflicting_content_length_is_a_spec_400(
        server: tuple[LocalApiServer, Recorder], lengths: list[str]) -> None:
    running, gateway = server
    headers = "".join(f"Content-Length: {value}\r\n" for value in lengths)
    status, response, body = _raw(running, f"POST /v1/x HTTP/1.1\r\nHost: x\r\n{headers}\r\n12345".encode())
    assert status == 400
    assert body["error"]["type"] == "VALIDATION_ERROR"
    assert "Content-Length" in body["error"]["message"]
    assert response.getheader("Connection") == "close"
    assert gateway.requests == []


@pytest.mark.parametrize("lengths", [["5", "5"], ["5, 5"], ["005"]])
def test_a_repeated_but_equal_content_length_is_one_length(
        server: tuple[LocalApiServer, Recorder], lengths: list[str]) -> None:
    running, _gateway = server
    headers = "".join(f"Content-Length: {value}\r\n" for value in lengths)
    connection = _connection(running)
    connection.putrequest("POST", "/v1/x")
    for line in headers.splitlines():
        name, _, value = line.partition(": ")
        connection.putheader(name, value)
    connection.endheaders(b"12345")
    status, _headers, body = _answer(connection)
    assert status == 200 and body["length"] == 5


@pytest.mark.parametrize("framing", [b"Content-Length: " + b"9" * 5000,
                                     b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 5000])
def test_a_length_too_long_to_be_a_number_is_too_large(
        server: tuple[LocalApiServer, Recorder], framing: bytes) -> None:
    running, gateway = server
    status, _response, body = _raw(running, b"POST /v1/x HTTP/1.1\r\n" + framing + b"\r\n\r\n")
    assert status == 413 and body["error"]["type"] == "VALIDATION_ERROR"
    assert gateway.requests == []


@pytest.mark.parametrize("chunks", [b"zz\r\nabc\r\n0\r\n\r\n", b"-5\r\nabc\r\n0\r\n\r\n",
                                    b"3\r\nabcdef\r\n0\r\n\r\n", b"0x3\r\nabc\r\n0\r\n\r\n",
                                    b"3\r\nabc\r\n0\r\n" + b"X-Trailer: 1\r\n" * 101 + b"\r\n"])
def test_a_malformed_chunked_body_is_a_spec_400(
        server: tuple[LocalApiServer, Recorder], chunks: bytes) -> None:
    running, gateway = server
    status, _response, body = _raw(
        running, b"POST /v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert status == 400 and body["error"]["type"] == "VALIDATION_ERROR"
    assert gateway.requests == []


@pytest.mark.parametrize("framing", [b"Transfer-Encoding: gzip\r\nContent-Length: 3",
                                     b"Transfer-Encoding: chunked, gzip",
                                     b"Transfer-Encoding: chunked\r\nContent-Length: 3"])
def test_a_transfer_coding_other_than_chunked_or_with_a_length_is_a_spec_400(
        server: tuple[LocalApiServer, Recorder], framing: bytes) -> None:
    running, gateway = server
    chunked = b"3\r\nabc\r\n0\r\n\r\n"
    status, _response, body = _raw(running, b"POST /v1/x HTTP/1.1\r\n" + framing + b"\r\n\r\n" + chunked)
    assert status == 400 and body["error"]["type"] == "VALIDATION_ERROR"
    assert gateway.requests == []


@pytest.mark.parametrize("request_bytes,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /v1/x?token=cwb_secret HTTP/1.1 extra\r\n\r\n", 400),
    (b"GET /v1/x?token=cwb_secret HTTP/9.9\r\n\r\n", 400),
    (b"GET /v1/x?token=cwb_secret HTTX/1.1\r\n\r\n", 400),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /v1/x HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"GET /v1/x HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 150 + b"\r\n", 431),
])
def test_http_servers_own_refusals_are_spec_json_not_html(
        server: tuple[LocalApiServer, Recorder], request_bytes: bytes, status: int) -> None:
    running, gateway = server
    got, _response, body = _raw(running, request_bytes)
    assert got == status
    assert body["error"]["type"] == "VALIDATION_ERROR"
    assert "cwb_secret" not in json.dumps(body)  # the request line is caller data: never echoed
    assert gateway.requests == []
