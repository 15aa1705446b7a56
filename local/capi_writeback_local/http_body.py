"""Reading a request body as HTTP/1.1 frames it (RFC 9112 §6): Content-Length or chunked.

Anything that does not frame a body unambiguously is refused before a byte of it reaches the
gateway: a Content-Length that is not a whole number of bytes, several that disagree, a
Transfer-Encoding that does not end in chunked, both headers at once (a request-smuggling shape),
or a chunked body whose sizes, line ends or length do not add up. A body over the limit raises
`BodyTooLarge` before it is read.
"""

from __future__ import annotations

import re
from email.message import Message
from io import BufferedIOBase

MAX_LINE_BYTES = 65536  # as http.server allows for the request line and each header
MAX_TRAILER_LINES = 100  # as http.server allows for the header lines
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")


class MalformedBody(ValueError):
    """The body is not framed as HTTP/1.1 says; the message says how (it never quotes the body)."""


class BodyTooLarge(Exception):
    """The body is longer than the limit (it is not read)."""


def read_body(headers: Message, rfile: BufferedIOBase, limit: int) -> bytes:
    """The request body, read from `rfile` as `headers` frame it."""
    codings = [c.strip().lower() for value in headers.get_all("Transfer-Encoding") or []
               for c in value.split(",") if c.strip()]
    if not codings:
        length = content_length(headers, limit)
        body = rfile.read(length) if length else b""
        if len(body) < length:
            raise MalformedBody("The body is shorter than its Content-Length.")
        return body
    if headers.get_all("Content-Length"):
        raise MalformedBody("Send Content-Length or Transfer-Encoding: chunked, not both.")
    if codings[-1] != "chunked":
        raise MalformedBody("Transfer-Encoding must end with chunked; no other coding is understood.")
    return _read_chunked(rfile, limit)


def content_length(headers: Message, limit: int) -> int:
    """The one Content-Length the headers give (0 without one). Repeats of one value, in several
    headers or as a list in one, count once (RFC 9110 §8.6); anything else is malformed."""
    values = {item.strip() for value in headers.get_all("Content-Length") or [] for item in value.split(",")}
    if not values:
        return 0
    if len(values) > 1:
        raise MalformedBody("The request has conflicting Content-Length values.")
    (value,) = values
    if _DIGITS.fullmatch(value) is None:
        raise MalformedBody("Content-Length must be a whole number of bytes (digits only).")
    if len(value.lstrip("0")) > len(str(limit)) or int(value) > limit:
        raise BodyTooLarge()
    return int(value)


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_text = _line(rfile).split(b";", 1)[0].strip()  # chunk extensions are ignored
        if _HEX.fullmatch(size_text) is None:
            raise MalformedBody("A chunk size is not a hexadecimal number.")
        if len(size_text.lstrip(b"0")) > len(f"{limit:x}"):
            raise BodyTooLarge()
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise BodyTooLarge()
        data = rfile.read(size)
        if len(data) < size:
            raise MalformedBody("The chunked body ended early.")
        if _line(rfile):
            raise MalformedBody("A chunk is longer than its size says.")
        chunks.append(data)
    for _ in range(MAX_TRAILER_LINES):  # the trailer section, read and ignored
        if not _line(rfile):
            return b"".join(chunks)
    raise MalformedBody("The chunked body has too many trailer lines.")


def _line(rfile: BufferedIOBase) -> bytes:
    """One line of the chunked framing, without its line end."""
    raw = rfile.readline(MAX_LINE_BYTES + 1)
    if len(raw) > MAX_LINE_BYTES:
        raise MalformedBody("A line of the chunked body is too long.")
    if not raw.endswith(b"\n"):
        raise MalformedBody("The chunked body ended early.")
    return raw.rstrip(b"\r\n")
