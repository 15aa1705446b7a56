"""`$` in a Python regular expression also matches before a final newline: `re.match(r"^k$", "k\\n")`
matches, and an idempotency key "k\\n" was once a different key than "k". Python patterns here use
`fullmatch` or `\\Z`; pydantic's `pattern=` runs Rust's regex engine, where `$` is the end of the text.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from capi_writeback.contracts.common import PROFILE_ID_PATTERN
from capi_writeback.contracts.writeback import (
    PREVIEW_ID_PATTERN,
    ConfirmRequest,
    DryRunRequest,
    PreviewRequest,
)
from pydantic import Field, TypeAdapter, ValidationError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "layers").rglob("*.py")) + sorted((ROOT / "local").rglob("*.py"))
RE_FUNCTIONS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}


def _pattern_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every literal pattern given to a function of `re`."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                and node.func.attr in RE_FUNCTIONS and node.args):
            continue
        first = node.args[0]
        parts = first.values if isinstance(first, ast.JoinedStr) else [first]
        text = "".join(str(p.value) if isinstance(p, ast.Constant) else "" for p in parts)
        found.append((node.lineno, text if isinstance(text, str) else text.decode("latin-1")))
    return found


def _ends_before_newline(pattern: str) -> bool:
    """True when the pattern holds a `$` anchor (escapes and character classes are not anchors)."""
    bare = re.sub(r"\[(?:\\.|[^\]\\])*\]", "", re.sub(r"\\.", "", pattern))
    return "$" in bare


def test_the_detector_finds_a_dollar_anchor_and_nothing_else() -> None:
    assert _ends_before_newline(r"^[0-9]+$")
    assert _ends_before_newline(r"(_\d+)+$")
    assert not _ends_before_newline(r"\$context\.[a-z]+")
    assert not _ends_before_newline(r"[$€£]+\Z")


def test_no_python_pattern_in_the_layer_or_local_code_anchors_with_dollar() -> None:
    offenders = []
    for path in SOURCES:
        for line, pattern in _pattern_literals(ast.parse(path.read_text(encoding="utf-8"))):
            if _ends_before_newline(pattern):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {pattern!r}")
    assert offenders == [], "use fullmatch or \\Z instead of $:\n" + "\n".join(offenders)
    assert len(SOURCES) > 50


def test_pydantics_pattern_is_anchored_at_the_end_of_the_text() -> None:
    digits = TypeAdapter(Annotated[str, Field(pattern=r"^[0-9]+$")])
    assert digits.validate_python("123") == "123"
    for text in ("123\n", "123\r\n", "\n123"):
        with pytest.raises(ValidationError):
            digits.validate_python(text)


PREVIEW_ID = "pv_" + "0" * 32


@pytest.mark.parametrize(("model", "field", "good"), [
    (PreviewRequest, "pixel_id", "1234567890"),
    (PreviewRequest, "preview_id", PREVIEW_ID),
    (DryRunRequest, "test_event_code", "TEST123"),
    (ConfirmRequest, "idempotency_key", "k"),
    (ConfirmRequest, "idempotency_key", "order 2026-01-02 #7"),
])
@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\r", "\x00"])
def test_a_trailing_newline_is_part_of_the_value_and_refused(model: Any, field: str, good: str,
                                                            suffix: str) -> None:
    base: dict[str, Any] = {"last_days": 7}
    assert getattr(model.model_validate({**base, field: good}), field) == good
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**base, field: good + suffix})
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]


@pytest.mark.parametrize("pattern", [PROFILE_ID_PATTERN, PREVIEW_ID_PATTERN])
def test_the_shared_id_patterns_refuse_a_trailing_newline(pattern: str) -> None:
    ids = TypeAdapter(Annotated[str, Field(pattern=pattern)])
    sample = PREVIEW_ID if pattern == PREVIEW_ID_PATTERN else "prof_1"
    assert ids.validate_python(sample) == sample
    with pytest.raises(ValidationError):
        ids.validate_python(sample + "\n")
