"""The exported model in S3: the sync's access check, the listing of a run's objects and their
split into work items, and each item's lines, streamed.

- An object is read as it is stored: gzip is recognised by its magic bytes (1f 8b), not by its
  name (UNLOAD writes names without extensions); several gzip members one after the other are read
  as one stream.
- An uncompressed object larger than `part_bytes` is split into byte ranges, one work item each:
  a range holds the lines that start inside it (its first partial line belongs to the range before;
  its last line is read to its end, past the range). A CSV range after the first is given the
  object's header line first. A CSV whose quoted fields hold line breaks must not be split: keep
  such exports below the part size (every exporter in docs/syncs.md can cap the file size).
  A gzip object cannot be split (it is one stream); its item covers the whole object.
- A work item pins the object's ETag: an object replaced during the run fails its item instead of
  mixing two exports.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from capi_writeback.syncs import aws

GZIP_MAGIC = b"\x1f\x8b"
PART_BYTES = 128 * 1024 * 1024
MAX_ITEMS = 10_000
HEADER_PROBE_BYTES = 64 * 1024
_READ_BYTES = 256 * 1024
_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)")  # fullmatch: no "\n" after
_SKIPPED_NAMES = re.compile(r"(^|/)[_.][^/]*\Z|\.metadata\Z|manifest(\.json)?\Z")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_uri(uri: str) -> S3Location:
    """`s3://bucket/prefix` -> S3Location; ValueError saying what is wrong."""
    found = _URI.fullmatch(uri.strip()) if isinstance(uri, str) else None
    if not found or ".." in found.group(1):
        raise ValueError("must be s3://<bucket>/<prefix>, e.g. s3://acme-exports/conversions/")
    return S3Location(found.group(1), found.group(2))


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    etag: str


def work_items(objects: Iterable[StoredObject], fmt: str, part_bytes: int = PART_BYTES,
               *, compressed: Any = None) -> list[dict[str, Any]]:
    """The work items of a run: one per object, or per byte range of a large uncompressed one.
    `compressed(obj) -> bool` tells whether a large object is gzip (only those are probed)."""
    items: list[dict[str, Any]] = []
    for obj in objects:
        ranges = [(0, obj.size)]
        if obj.size > part_bytes and not (compressed is not None and compressed(obj)):
            ranges = [(start, min(start + part_bytes, obj.size)) for start in range(0, obj.size, part_bytes)]
        for part, (start, end) in enumerate(ranges):
            items.append({"item": len(items), "bucket": obj.bucket, "key": obj.key, "etag": obj.etag,
                          "size": obj.size, "start": start, "end": end, "part": part,
                          "parts": len(ranges), "format": fmt})
            if len(items) > MAX_ITEMS:
                raise ValueError(f"more than {MAX_ITEMS:,} work items: export fewer, larger files, or "
                                 "point the sync at a narrower prefix")
    return items


class S3Source:
    """The S3 calls of a sync (the client is the process's, or the one given)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def s3(self) -> Any:
        return self._client if self._client is not None else aws.client("s3")

    def readable_problem(self, uri: str) -> str | None:
        """Why this function's role cannot list `uri` (a real ListObjectsV2), or None if it can."""
        location = parse_uri(uri)
        try:
            self.s3.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1)
        except Exception as exc:
            code = aws.error_code(exc)
            if code is None:
                raise
            if code in ("NoSuchBucket", "404"):
                return f"bucket {location.bucket} does not exist"
            if code in ("AccessDenied", "AllAccessDisabled", "403"):
                return (f"the sync's role may not read s3://{location.bucket}/: export into the bucket the "
                        "stack grants (SyncExportBucket), see docs/syncs.md")
            return f"cannot list it ({code})"
        return None

    def objects(self, uri: str) -> Iterator[StoredObject]:
        """The export's objects under the prefix (not folders, empty objects, or the _SUCCESS,
        .metadata and manifest files exporters write beside the data), by key."""
        location = parse_uri(uri)
        kwargs: dict[str, Any] = {"Bucket": location.bucket, "Prefix": location.prefix}
        while True:
            page = self.s3.list_objects_v2(**kwargs)
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                if key.endswith("/") or int(obj.get("Size", 0)) == 0 or _SKIPPED_NAMES.search(key):
                    continue
                yield StoredObject(location.bucket, key, int(obj["Size"]), str(obj.get("ETag", "")))
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def starts_with_gzip(self, obj: StoredObject) -> bool:
        return self._range(obj.bucket, obj.key, obj.etag, 0, len(GZIP_MAGIC) - 1) == GZIP_MAGIC

    def put_json(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")

    def _range(self, bucket: str, key: str, etag: str, first: int, last: int | None) -> bytes:
        body = self._get(bucket, key, etag, first, last)
        try:
            return bytes(body.read())
        finally:
            body.close()

    def _get(self, bucket: str, key: str, etag: str, first: int, last: int | None) -> Any:
        span = f"bytes={first}-{'' if last is None else last}"
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": span}
        if etag:
            kwargs["IfMatch"] = etag
        return self.s3.get_object(**kwargs)["Body"]

    def lines(self, item: dict[str, Any]) -> Iterator[bytes]:
        """The lines of a work item, each with its line break; gzip decompressed as it streams."""
        bucket, key, etag = item["bucket"], item["key"], item.get("etag", "")
        start, end = int(item["start"]), int(item["end"])
        if start == 0:
            body = self._get(bucket, key, etag, 0, None)
            try:
                lines = _split_lines(_decoded(_chunks(body)))
                yield from lines if int(item.get("parts", 1)) == 1 else _bounded(lines, 0, end)
            finally:
                body.close()
            return
        if item.get("format") == "csv":
            yield self._header(bucket, key, etag)
        body = self._get(bucket, key, etag, start - 1, None)
        try:
            lines = _split_lines(_chunks(body))
            # The end of the line that started before this range (or just the \n before it).
            before = next(lines, b"")
            yield from _bounded(lines, start - 1 + len(before), end)
        finally:
            body.close()

    def _header(self, bucket: str, key: str, etag: str) -> bytes:
        head = self._range(bucket, key, etag, 0, HEADER_PROBE_BYTES - 1)
        cut = head.find(b"\n")
        if cut < 0:
            raise ValueError(f"the first line of {key} (the CSV header) is longer than "
                             f"{HEADER_PROBE_BYTES} bytes")
        return head[:cut + 1]


def _chunks(body: Any) -> Iterator[bytes]:
    while True:
        chunk = body.read(_READ_BYTES)
        if not chunk:
            return
        yield bytes(chunk)


def _decoded(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The bytes as stored, or decompressed when they start with the gzip magic (any number of
    concatenated gzip members)."""
    first = next(chunks, b"")
    if not first.startswith(GZIP_MAGIC):
        if first:
            yield first
        yield from chunks
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = first
    while True:
        while pending:
            # At most _READ_BYTES out per step: an export compresses 10 to 50 times, and a whole
            # chunk inflated at once would make the memory follow the compression ratio.
            out = inflater.decompress(pending, _READ_BYTES)
            if out:
                yield out
            if inflater.eof:  # one member ended: the rest is the next member (or padding)
                pending = inflater.unused_data
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if not pending.startswith(GZIP_MAGIC[:len(pending)]):
                    return
            else:
                pending = inflater.unconsumed_tail
        nxt = next(chunks, None)
        if nxt is None:
            tail = inflater.flush()
            if tail:
                yield tail
            return
        pending = nxt


def _split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        data = rest + chunk if rest else chunk
        start = 0
        while True:
            cut = data.find(b"\n", start)
            if cut < 0:
                break
            yield data[start:cut + 1]
            start = cut + 1
        rest = data[start:]
    if rest:
        yield rest


def _bounded(lines: Iterator[bytes], offset: int, end: int) -> Iterator[bytes]:
    """The lines that start before byte `end` of the object, the first one starting at `offset`."""
    for line in lines:
        if offset >= end:
            return
        yield line
        offset += len(line)
