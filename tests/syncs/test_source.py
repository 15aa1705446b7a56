"""The export in S3 (moto): listing, gzip by magic bytes, byte-range items that hold every line once."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from capi_writeback.syncs.source import S3Source, parse_uri, work_items
from moto import mock_aws

BUCKET = "acme-exports"


@pytest.fixture()
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def lines_of(source: S3Source, items: list[dict[str, Any]]) -> list[list[bytes]]:
    return [list(source.lines(item)) for item in items]


def test_uris_are_parsed_or_refused_with_the_form() -> None:
    assert parse_uri("s3://acme-exports/conversions/").prefix == "conversions/"
    assert parse_uri("s3://acme-exports/").prefix == ""
    for bad in ("acme-exports/x", "s3://Bad_Bucket/x", "s3:/acme/x", "https://acme-exports/x"):
        with pytest.raises(ValueError, match="s3://<bucket>/<prefix>"):
            parse_uri(bad)


def test_listing_keeps_the_data_files_only(s3: Any) -> None:
    for key, body in (
        ("run/part-0000", b"a\n"),
        ("run/part-0001.csv.gz", gzip.compress(b"b\n")),
        ("run/_SUCCESS", b""),
        ("run/x.csv.metadata", b"{}"),
        ("run/manifest", b"{}"),
        ("run/empty.csv", b""),
        ("run/sub/", b""),
        ("other/part-0000", b"c\n"),
    ):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    found = [o.key for o in S3Source(s3).objects(f"s3://{BUCKET}/run/")]
    assert found == ["run/part-0000", "run/part-0001.csv.gz"]


def test_a_bucket_that_cannot_be_listed_is_named(s3: Any) -> None:
    source = S3Source(s3)
    assert source.readable_problem(f"s3://{BUCKET}/run/") is None
    assert "does not exist" in str(source.readable_problem("s3://no-such-bucket-here/x/"))


@pytest.mark.parametrize("part_bytes", [40, 333, 10_000])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_byte_ranges_hold_every_line_exactly_once(s3: Any, part_bytes: int, fmt: str) -> None:
    rng = random.Random(part_bytes)
    header = b"id,email\n" if fmt == "csv" else b""
    body = [
        f'{{"id": {i}, "pad": "{"x" * rng.randint(0, 40)}"}}\n'.encode()
        if fmt == "jsonl"
        else f"{i},{'y' * rng.randint(0, 40)}@example.com\n".encode()
        for i in range(300)
    ]
    data = header + b"".join(body)
    s3.put_object(Bucket=BUCKET, Key="big/export", Body=data)
    source = S3Source(s3)
    items = work_items(
        source.objects(f"s3://{BUCKET}/big/"), fmt, part_bytes, compressed=source.starts_with_gzip
    )
    assert len(items) == -(-len(data) // part_bytes) and [i["item"] for i in items] == list(range(len(items)))
    assert items[0]["start"] == 0 and items[-1]["end"] == len(data)
    parts = lines_of(source, items)
    if fmt == "csv":  # every range of a CSV starts with the header
        assert all(p[0] == header for p in parts if p)
        parts = [p[1:] for p in parts]
    assert [line for part in parts for line in part] == body


def test_gzip_is_recognised_by_its_magic_bytes_and_never_split(s3: Any) -> None:
    plain = b"".join(f'{{"id": {i}}}\n'.encode() for i in range(2000))
    two_members = gzip.compress(plain[:5000]) + gzip.compress(plain[5000:])  # e.g. concatenated parts
    s3.put_object(Bucket=BUCKET, Key="gz/part-0000", Body=two_members)  # no extension: UNLOAD's names
    source = S3Source(s3)
    items = work_items(source.objects(f"s3://{BUCKET}/gz/"), "jsonl", 100, compressed=source.starts_with_gzip)
    assert len(items) == 1 and items[0]["parts"] == 1
    assert b"".join(source.lines(items[0])) == plain


def test_an_object_replaced_during_the_run_is_not_read_with_the_old_etag(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="e/x", Body=b"1\n")
    source = S3Source(s3)
    (item,) = work_items(source.objects(f"s3://{BUCKET}/e/"), "jsonl")
    s3.put_object(Bucket=BUCKET, Key="e/x", Body=b"2\n")
    with pytest.raises(Exception, match=r"PreconditionFailed|412"):
        list(source.lines(item))
