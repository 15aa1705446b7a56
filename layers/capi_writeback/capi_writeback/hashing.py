"""SHA-256 hashing of normalized PII and detection of values that are already hashed.

Meta wants lowercase hex SHA-256 of the UTF-8 normalized value (CAPI-REFERENCE §3.2). A value that
already is a SHA-256 hex digest (any case, optionally with a parameter-builder `.appendix`) is passed
through lowercased, so nothing is ever hashed twice.
"""

from __future__ import annotations

import hashlib
import re

# 64 hex digits, optionally followed by a parameter-builder appendix (2- or 8-char base64url).
_HASHED = re.compile(r"[0-9a-fA-F]{64}(?:\.[A-Za-z0-9_-]{2,8})?")
_MD5 = re.compile(r"[0-9a-fA-F]{32}")


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of `text` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def already_hashed(value: str) -> str | None:
    """The canonical form of an already-hashed value (hex lowercased, appendix kept), else None."""
    text = value.strip()
    if len(text) < 64 or _HASHED.fullmatch(text) is None:
        return None
    return text[:64].lower() + text[64:]


def is_hashed(value: str) -> bool:
    """True when `value` is exactly in the canonical hashed form Meta accepts."""
    return _HASHED.fullmatch(value) is not None and value[:64] == value[:64].lower()


def looks_md5(value: str) -> bool:
    """True for an MD5 hex digest: already hashed PII that cannot be normalized or re-hashed into
    anything Meta could match (passing MD5 through is UNCONFIRMED, CAPI-REFERENCE §3.2)."""
    text = value.strip()
    return len(text) == 32 and _MD5.fullmatch(text) is not None
