"""Skip details and warnings name the field and the problem, never the value: whatever a row holds (an
email typed into outcome_type, a name in action_source), it must not reach logs, responses and
stored confirm results through them.

By design the API returns a row's own `conversion_id` with its skip (it is how the caller finds the
row), and the event itself carries what was sent; neither is checked here, and neither is `_warnings`:
a stored row's own warnings, carried to its build as they are (a caller who writes text there gets
that text back). Keys are the caller's schema: an unknown column is named only when it is spelled
like a column name (`events.py`).
"""

from __future__ import annotations

import json
from typing import Any

from capi_writeback.events import build_events
from capi_writeback.fields import FIELDS
from capi_writeback.rows import Rejection, prepare_for_storage
from capi_writeback.settings import ProfileSettings
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import NOW, make_row

MARKER = "zqxmarker"
NAMES = sorted(name for name in FIELDS if name not in ("conversion_id", "_warnings"))
VALUES = st.sampled_from([
    MARKER, MARKER.upper(), f"{MARKER}@example.com", f" {MARKER} ", f"{MARKER}|{MARKER}", f"{MARKER};x",
    f"12{MARKER}", f"+1 415 {MARKER}", f'["{MARKER}"]', f"[{MARKER}", f"http://{MARKER}", f"fb.1.{MARKER}",
    f"2026-01-01{MARKER}", f"{MARKER}, b",
]).flatmap(lambda text: st.sampled_from([text, [text], [text, "ok"], {"id": text}, [{"id": 1, "q": text}],
                                          {"advertiser_tracking_enabled": text, "extinfo": [text]}]))
ROWS = st.dictionaries(st.sampled_from(NAMES), VALUES, min_size=1, max_size=6)
SETTINGS = st.sampled_from([ProfileSettings(), ProfileSettings(country="us", currency="EUR"),
                            ProfileSettings(action_source="website")])


def _texts(result: Any) -> str:
    parts = [s.detail for s in result.skipped] + list(result.warnings)
    for built in result.events:
        parts.extend(built.warnings)
    return json.dumps(parts, ensure_ascii=False).lower()


@settings(max_examples=400, derandomize=True, deadline=None)
@given(changes=ROWS, profile=SETTINGS)
def test_no_skip_detail_or_warning_echoes_a_value(changes: dict[str, Any], profile: ProfileSettings) -> None:
    row = {**make_row(), **changes}
    result = build_events([row], profile, NOW)
    assert MARKER not in _texts(result)
    stored = prepare_for_storage(row, profile, NOW)
    if isinstance(stored, Rejection):
        assert MARKER not in stored.detail.lower()
    else:
        assert MARKER not in json.dumps(stored.get("_warnings", [])).lower()
        assert MARKER not in _texts(build_events([stored], profile, NOW))


def test_each_known_echo_is_gone() -> None:
    """The ones found by hand before the property test: each names its field instead."""
    for field in ("outcome_type", "event_name", "action_source"):
        result = build_events([make_row(**{field: f"{MARKER}@example.com"})], ProfileSettings(), NOW)
        assert [s.detail for s in result.skipped] and MARKER not in _texts(result)
        assert field in result.skipped[0].detail


def test_an_unknown_column_is_named_only_when_it_is_spelled_like_one() -> None:
    row = {**make_row(), "Customer Tier": "gold", f"{MARKER}@example.com": "x", f"+1 415 {MARKER}": 1}
    warnings = build_events([row], ProfileSettings(), NOW).warnings
    assert any("'Customer Tier'" in w for w in warnings), warnings
    assert MARKER not in json.dumps(warnings)
    hidden = [w for w in warnings if "unknown columns whose names look like data" in w]
    assert len(hidden) == 1 and hidden[0].endswith("(row 0)"), warnings
