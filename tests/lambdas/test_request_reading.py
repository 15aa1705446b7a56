"""How a body is read at the boundary (`api.request`): its nesting depth without parsing it, and
the one error every unreadable body becomes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from capi_writeback.api.request import WHOLE_BODY, body_text, json_body, nesting_depth
from capi_writeback.limits import MAX_JSON_DEPTH
from hypothesis import given, settings
from hypothesis import strategies as st

TEXT = st.text(alphabet=st.sampled_from('ab"\\[]{}\n\t\u00e9\U0001F600/'), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300, derandomize=True)
@given(value=JSON, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 1]))
def test_the_depth_read_from_the_text_is_the_depth_of_the_value(value: Any, ensure_ascii: bool,
                                                                indent: int | None) -> None:
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    assert nesting_depth(text) == _depth(value)


@settings(max_examples=200, derandomize=True)
@given(value=JSON, cut=st.integers(min_value=0))
def test_a_truncated_body_is_never_shallower_than_the_part_the_parser_reads(value: Any, cut: int) -> None:
    text = json.dumps(value)
    prefix = text[: cut % (len(text) + 1)]
    try:
        parsed = json.loads(prefix)
    except ValueError:
        return
    assert nesting_depth(prefix) >= _depth(parsed)


def test_a_body_at_the_limit_is_read_and_one_level_more_is_refused() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert _depth(json_body(at_limit)) == MAX_JSON_DEPTH
    with pytest.raises(json.JSONDecodeError) as caught:
        json_body("[" + at_limit + "]")
    assert caught.value.pos == WHOLE_BODY and str(MAX_JSON_DEPTH) in caught.value.msg


@pytest.mark.parametrize(("data", "words"), [
    (b"\xef\xbb\xbf{}", "byte order mark"),
    (b"\xff\xfe{\x00}\x00", "byte order mark"),
    (b"{\"a\": \"caf\xe9\"}", "not UTF-8"),
    (b"\xc0\xaf", "not UTF-8"),
])
def test_bytes_that_are_not_utf8_json_text_are_a_decode_error_of_the_whole_body(data: bytes,
                                                                              words: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        body_text(data)
    assert caught.value.pos == WHOLE_BODY and words in caught.value.msg


def test_nul_characters_are_named_as_a_likely_utf16_body() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json_body('{\x00"\x00a\x00"\x00:\x001\x00}\x00')
    assert "UTF-16" in caught.value.msg
