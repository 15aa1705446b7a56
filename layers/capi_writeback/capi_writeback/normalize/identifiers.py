"""Fields Meta wants unhashed or as an opaque id: external_id (trimmed, hashed by the caller),
client_ip_address, client_user_agent, fbc, fbp (CAPI-REFERENCE §3.1, §3.3), and the app and
business-messaging ids of §12 (advertising id, install id, Page/Instagram ids, click-to-WhatsApp id)."""

from __future__ import annotations

import ipaddress
import re

# fb.<subdomain index>.<creation time ms>.<random or fbclid>[.<parameter-builder appendix>]
_FB_COOKIE = re.compile(r"fb\.\d\.\d{10,13}\.[^.\s]+(?:\.[A-Za-z0-9_-]{2,8})?")
_APPENDIX = re.compile(r"[A-Za-z0-9_-]{2,8}")
_FBCLID = re.compile(r"[A-Za-z0-9_-]{8,}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_NUMERIC_ID = re.compile(r"[0-9]{1,32}")
_OPAQUE_ID = re.compile(r"[\x21-\x7e]{1,512}")  # printable ASCII, no blanks: a click or install id
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def normalize_external_id(value: str, country: str | None = None) -> str | None:
    """Trimmed as given (ids are case-sensitive); empty -> None."""
    text = value.strip()
    return text or None


def normalize_ip(value: str, country: str | None = None) -> str | None:
    """A valid IPv4/IPv6 address, optionally with a parameter-builder `.appendix`; else None."""
    text = value.strip()
    if _IPV4.fullmatch(text) or _valid_ip(text):
        return text
    head, _, tail = text.rpartition(".")
    if head and _APPENDIX.fullmatch(tail) and not tail.isdigit() and _valid_ip(head):
        return text
    return None


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalize_user_agent(value: str, country: str | None = None) -> str | None:
    """The user agent as sent by the browser, trimmed; empty -> None."""
    text = value.strip()
    return text or None


def normalize_fb_cookie(value: str, country: str | None = None) -> str | None:
    """An `_fbc`/`_fbp` value in Meta's `fb.<i>.<ms>.<id>` form, kept exactly (fbclid is
    case-sensitive); anything else -> None."""
    text = value.strip()
    return text if _FB_COOKIE.fullmatch(text) else None


def fbc_from_fbclid(fbclid: str, occurred_at: int) -> str | None:
    """`fb.1.<ms>.<fbclid>` with the conversion's time, so the same row always gives the same fbc."""
    text = fbclid.strip()
    if _FBCLID.fullmatch(text) is None:
        return None
    return f"fb.1.{occurred_at * 1000}.{text}"


def normalize_advertising_id(value: str, country: str | None = None) -> str | None:
    """A mobile advertising id (IDFA, GAID: a UUID) as the device gave it, trimmed; the all-zero id a
    device reports when the user limits ad tracking identifies nobody -> None, as does anything else."""
    text = value.strip()
    if _UUID.fullmatch(text) is None or not text.strip("0-"):
        return None
    return text


def normalize_numeric_id(value: str, country: str | None = None) -> str | None:
    """A Graph id (Page id, Page- or Instagram-scoped user id, account id): digits only, trimmed."""
    text = value.strip()
    return text if _NUMERIC_ID.fullmatch(text) else None


def normalize_opaque_id(value: str, country: str | None = None) -> str | None:
    """An id issued by Meta or an app (click-to-WhatsApp click id, app install id), kept exactly
    (case-sensitive): printable, no blanks, at most 512 characters."""
    text = value.strip()
    return text if _OPAQUE_ID.fullmatch(text) else None
