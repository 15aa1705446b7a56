"""Normalizers of conversion-row values by Meta's rules (CAPI-REFERENCE §3.1, §4; SPEC §5): one
module per field family. Which row field uses which normalizer, and whether its value is hashed, is
said once, in `capi_writeback.fields`; turning a row into `user_data` is `capi_writeback.user_data`.

Every normalizer takes `(value, country)` (country: lowercase ISO alpha-2 or None) and returns the
normalized plain string, or None when the value cannot be normalized; callers drop such values with
a warning naming the field, never send them as a junk hash.
"""

from __future__ import annotations

from collections.abc import Callable

from capi_writeback.normalize.currency import normalize_currency
from capi_writeback.normalize.identifiers import fbc_from_fbclid

Normalizer = Callable[[str, str | None], str | None]

__all__ = ["Normalizer", "fbc_from_fbclid", "normalize_currency"]
